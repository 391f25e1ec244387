import type pg from 'pg';
import { ImggateError, type StoreErrorCode } from '../../errors.js';
import {
  PRIORITIES,
  type Enqueued,
  type EnqueueRequest,
  type FailOutcome,
  type Job,
  type JobFilter,
  type JobPage,
  type JobQueue,
  type JobResult,
  type Lease,
  type LeaseRef,
  type QueueSettings,
  type QueueStats,
  type StoredEvent,
} from '../queue.js';
import { toEvent, toJob, type EventRow, type JobRow } from '../rows.js';
import { storeError } from './connect.js';
import type { PostgresDatabase } from './database.js';
import type { PostgresStore } from './store.js';

/** Thrown inside an enqueue's savepoint when a concurrent delivery of the same event id won: run it again. */
class EventRace extends Error {}

/**
 * The queue in PostgreSQL, shared by every gate process on the database. Claims take the oldest
 * runnable job with `SELECT … FOR UPDATE SKIP LOCKED`: workers never wait on each other's rows, and a
 * row is handed to one of them. Not pg-boss: that is one dependency less, and this queue's contract
 * (fencing tokens on every write, dedupe by digest + rules + feeds, events kept by sender id, verdicts
 * committed with the job's end) is already defined by the embedded backend; pg-boss's model of jobs
 * (named queues, its own retry and singleton keys, no fence) would have to be bent around it.
 */
export class PostgresJobQueue implements JobQueue {
  readonly #db: PostgresDatabase;
  readonly #store: PostgresStore;
  readonly #settings: Required<QueueSettings>;

  constructor(store: PostgresStore, settings: QueueSettings) {
    this.#store = store;
    this.#db = store.db;
    this.#settings = { now: Date.now, ...settings };
  }

  #tx<T>(what: string, fn: (client: pg.PoolClient, now: number) => Promise<T>): Promise<T> {
    const now = this.#settings.now();
    return this.#db.tx(`queue: ${what} failed`, (client) => fn(client, now));
  }

  /** Enqueues waiting for the next group commit, and whether one is running. */
  #pending: Array<{ request: EnqueueRequest; resolve: (e: Enqueued) => void; reject: (err: unknown) => void }> = [];
  #committing = false;

  /**
   * Enqueues arriving together commit together, in arrival order, one transaction at a time from this
   * process: a burst of webhooks costs one commit, and the first of two requests for a digest is the one
   * that creates its job. Each request runs in its own savepoint, so one that fails is rolled back alone.
   */
  enqueue(request: EnqueueRequest): Promise<Enqueued> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ request, resolve, reject });
      if (!this.#committing && this.#pending.length === 1) setImmediate(() => void this.#commitPending());
    });
  }

  async #commitPending(): Promise<void> {
    this.#committing = true;
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      const outcomes: Array<{ ok: true; value: Enqueued } | { ok: false; error: unknown }> = [];
      try {
        await this.#tx('enqueue', async (client, now) => {
          outcomes.length = 0;
          for (const { request } of batch) outcomes.push(await this.#enqueueInSavepoint(client, request, now));
        });
        batch.forEach((b, i) => {
          const o = outcomes[i];
          if (o?.ok) b.resolve(o.value);
          else b.reject(o?.error);
        });
      } catch (err) {
        batch.forEach((b) => b.reject(err));
      }
    }
    this.#committing = false;
  }

  async #enqueueInSavepoint(client: pg.PoolClient, request: EnqueueRequest, now: number): Promise<{ ok: true; value: Enqueued } | { ok: false; error: unknown }> {
    for (let attempt = 0; ; attempt++) {
      await client.query('SAVEPOINT enqueue');
      try {
        const value = await this.#enqueueOne(client, request, now);
        await client.query('RELEASE SAVEPOINT enqueue');
        return { ok: true, value };
      } catch (error) {
        await client.query('ROLLBACK TO SAVEPOINT enqueue');
        // The other delivery has committed by now (the insert waited for it): the next try finds it.
        if (error instanceof EventRace && attempt < 2) continue;
        return { ok: false, error: storeError(this.#db.url, 'queue: enqueue failed', error) };
      }
    }
  }

  async #enqueueOne(client: pg.PoolClient, request: EnqueueRequest, now: number): Promise<Enqueued> {
    const { event, rulesDigest, feedsState } = request;
    const priority = PRIORITIES[request.priority];
    const seen = await client.query<{ job_id: number }>('SELECT job_id FROM events WHERE receiver = $1 AND event_id = $2', [event.receiver, event.eventId]);
    if (seen.rows[0]) return { jobId: seen.rows[0].job_id, deduped: true, duplicateEvent: true };
    // Another process enqueuing the same digest at once: the insert waits for its commit, then does nothing.
    const inserted = await client.query<{ id: number }>(
      `INSERT INTO jobs (digest, registry, repository, tag, rules_digest, feeds_state, priority, state, max_attempts, not_before, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9, $9, $9)
       ON CONFLICT (digest, rules_digest, feeds_state) DO NOTHING RETURNING id`,
      [event.digest, event.registry, event.repository, event.tag ?? null, rulesDigest, feedsState, priority, this.#settings.maxAttempts, now],
    );
    let jobId: number;
    const deduped = inserted.rows.length === 0;
    if (inserted.rows[0]) {
      jobId = inserted.rows[0].id;
    } else {
      const existing = (await client.query<JobRow>('SELECT * FROM jobs WHERE digest = $1 AND rules_digest = $2 AND feeds_state = $3 FOR UPDATE', [event.digest, rulesDigest, feedsState])).rows[0];
      if (!existing) throw new Error('the job for this digest vanished while it was being linked');
      jobId = existing.id;
      if (existing.state === 'failed') {
        // A new request for an image that failed for good is a new chance, as a retry through the API would be.
        await client.query(
          `UPDATE jobs SET state = 'queued', attempts = 0, not_before = $2, priority = LEAST(priority, $3), last_error = NULL, finished_at = NULL, updated_at = $2 WHERE id = $1`,
          [jobId, now, priority],
        );
      } else if (existing.state === 'queued' && priority < existing.priority) {
        await client.query('UPDATE jobs SET priority = $2, updated_at = $3 WHERE id = $1', [jobId, priority, now]);
      }
    }
    const linked = await client.query(
      `INSERT INTO events (receiver, event_id, registry, repository, tag, digest, job_id, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (receiver, event_id) DO NOTHING`,
      [event.receiver, event.eventId, event.registry, event.repository, event.tag ?? null, event.digest, jobId, now],
    );
    if (linked.rowCount !== 1) throw new EventRace();
    return { jobId, deduped, duplicateEvent: false };
  }

  claim(worker: string): Promise<Lease | undefined> {
    return this.#tx('claim', async (client, now) => {
      const expiresAt = now + this.#settings.leaseMs;
      const { rows } = await client.query<JobRow>(
        `WITH next AS (
           SELECT id FROM jobs WHERE state = 'queued' AND not_before <= $1
           ORDER BY priority, not_before, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $2, lease_token = lease_token + 1,
           lease_expires = $3, updated_at = $1
         FROM next WHERE jobs.id = next.id RETURNING jobs.*`,
        [now, worker, expiresAt],
      );
      const row = rows[0];
      return row ? { job: toJob(row), token: row.lease_token, expiresAt } : undefined;
    });
  }

  /** Whether `lease` is still the job's live lease at `now`, the row locked until the transaction ends: the fence every write passes. */
  async #holds(client: pg.PoolClient, lease: LeaseRef, now: number): Promise<boolean> {
    const row = (await client.query<Pick<JobRow, 'state' | 'lease_token' | 'lease_expires'>>('SELECT state, lease_token, lease_expires FROM jobs WHERE id = $1 FOR UPDATE', [lease.job.id])).rows[0];
    return row !== undefined && row.state === 'running' && row.lease_token === lease.token && row.lease_expires !== null && row.lease_expires > now;
  }

  heartbeat(lease: LeaseRef): Promise<boolean> {
    return this.#tx('heartbeat', async (client, now) => {
      if (!(await this.#holds(client, lease, now))) return false;
      await client.query('UPDATE jobs SET lease_expires = $2, updated_at = $3 WHERE id = $1', [lease.job.id, now + this.#settings.leaseMs, now]);
      return true;
    });
  }

  complete(lease: LeaseRef, result: JobResult): Promise<boolean> {
    return this.#tx('complete', async (client, now) => {
      if (!(await this.#holds(client, lease, now))) return false;
      for (const v of result.verdicts) await this.#store.insert(client, v, lease.job.id);
      await client.query(
        `UPDATE jobs SET state = 'done', verdict = $2, lease_owner = NULL, lease_expires = NULL, last_error = NULL,
           finished_at = $3, updated_at = $3 WHERE id = $1`,
        [lease.job.id, result.verdict, now],
      );
      return true;
    });
  }

  fail(lease: LeaseRef, error: string): Promise<FailOutcome> {
    return this.#tx('fail', async (client, now) => {
      if (!(await this.#holds(client, lease, now))) return 'lost';
      return this.#requeueOrFail(client, lease.job.id, error, now);
    });
  }

  /** A failed attempt waits out its backoff; a lost worker's job is put back at once (`backoff` false). */
  async #requeueOrFail(client: pg.PoolClient, id: number, error: string, now: number, backoff = true): Promise<'retrying' | 'failed'> {
    const row = (await client.query<Pick<JobRow, 'attempts' | 'max_attempts'>>('SELECT attempts, max_attempts FROM jobs WHERE id = $1', [id])).rows[0];
    if (!row) throw new ImggateError<StoreErrorCode>('STORE_FAILED', `queue: job ${id} is gone`);
    if (row.attempts >= row.max_attempts) {
      await client.query(`UPDATE jobs SET state = 'failed', last_error = $2, lease_owner = NULL, lease_expires = NULL, finished_at = $3, updated_at = $3 WHERE id = $1`, [id, error, now]);
      return 'failed';
    }
    const delay = !backoff ? 0 : Math.min(this.#settings.backoffMaxMs, this.#settings.backoffMs * 2 ** Math.max(0, row.attempts - 1));
    await client.query(`UPDATE jobs SET state = 'queued', last_error = $2, lease_owner = NULL, lease_expires = NULL, not_before = $3, updated_at = $4 WHERE id = $1`, [id, error, now + delay, now]);
    return 'retrying';
  }

  release(lease: LeaseRef): Promise<boolean> {
    return this.#tx('release', async (client, now) => {
      if (!(await this.#holds(client, lease, now))) return false;
      await client.query(`UPDATE jobs SET state = 'queued', attempts = GREATEST(attempts - 1, 0), lease_owner = NULL, lease_expires = NULL, not_before = $2, updated_at = $2 WHERE id = $1`, [lease.job.id, now]);
      return true;
    });
  }

  expireLeases(): Promise<number> {
    return this.#tx('expire leases', async (client, now) => {
      // SKIP LOCKED: a job whose worker is completing it right now is that worker's to finish.
      const { rows } = await client.query<Pick<JobRow, 'id' | 'lease_owner'>>(`SELECT id, lease_owner FROM jobs WHERE state = 'running' AND lease_expires <= $1 FOR UPDATE SKIP LOCKED`, [now]);
      for (const r of rows) await this.#requeueOrFail(client, r.id, `the lease of worker ${r.lease_owner ?? '?'} expired`, now, false);
      return rows.length;
    });
  }

  retry(jobId: number): Promise<boolean> {
    return this.#tx('retry', async (client, now) => {
      const r = await client.query(`UPDATE jobs SET state = 'queued', attempts = 0, not_before = $2, finished_at = NULL, updated_at = $2 WHERE id = $1 AND state = 'failed'`, [jobId, now]);
      return r.rowCount === 1;
    });
  }

  get(jobId: number): Promise<Job | undefined> {
    return this.#tx('get', async (client) => {
      const row = (await client.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [jobId])).rows[0];
      return row ? toJob(row) : undefined;
    });
  }

  list(filter: JobFilter): Promise<JobPage> {
    return this.#tx('list', async (client) => {
      const where: string[] = [];
      const params: Array<string | number> = [];
      const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500);
      const add = (clause: string, value: string | number | undefined): void => {
        if (value === undefined) return;
        params.push(value);
        where.push(clause.replace('?', `$${params.length}`));
      };
      add('repository = ?', filter.repository);
      add('verdict = ?', filter.verdict);
      add('state = ?', filter.state);
      add('created_at >= ?', filter.since);
      add('created_at < ?', filter.until);
      add('id < ?', filter.cursor);
      params.push(limit + 1);
      const { rows } = await client.query<JobRow>(`SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`, params);
      const jobs = rows.slice(0, limit).map(toJob);
      const last = jobs[jobs.length - 1];
      return rows.length > limit && last ? { jobs, next: last.id } : { jobs };
    });
  }

  events(jobId: number): Promise<StoredEvent[]> {
    return this.#tx('events', async (client) => {
      const { rows } = await client.query<EventRow>('SELECT * FROM events WHERE job_id = $1 ORDER BY id', [jobId]);
      return rows.map(toEvent);
    });
  }

  stats(): Promise<QueueStats> {
    return this.#tx('stats', async (client, now) => {
      const counts = (await client.query<{ state: Job['state']; n: number }>('SELECT state, COUNT(*)::int AS n FROM jobs GROUP BY state')).rows;
      const by = (s: Job['state']): number => counts.find((c) => c.state === s)?.n ?? 0;
      const oldest = (await client.query<{ t: number | null }>(`SELECT MIN(not_before) AS t FROM jobs WHERE state = 'queued' AND not_before <= $1`, [now])).rows[0];
      const t = oldest?.t ?? null;
      return { queued: by('queued'), running: by('running'), failed: by('failed'), done: by('done'), oldestQueuedMs: t === null ? 0 : now - t };
    });
  }

  ping(): Promise<void> {
    return this.#db.pool.query('SELECT 1').then(
      () => undefined,
      (err: unknown) => {
        throw storeError(this.#db.url, 'queue: ping failed', err);
      },
    );
  }
}
