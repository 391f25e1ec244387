import type Database from 'better-sqlite3';
import { ImggateError, type StoreErrorCode } from '../errors.js';
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
  type JobState,
  type Lease,
  type LeaseRef,
  type QueueSettings,
  type QueueStats,
  type StoredEvent,
} from './queue.js';
import { toEvent, toJob, type EventRow, type JobRow } from './rows.js';
import type { SqliteStore } from './sqlite.js';

/**
 * The queue in the embedded SQLite store, sharing its file and connection with the verdicts so that a
 * job's verdict and its completion commit together. better-sqlite3 is synchronous: each method is one
 * immediate transaction, which also serialises claims against other processes using the same file.
 */
export class SqliteJobQueue implements JobQueue {
  readonly #store: SqliteStore;
  readonly #settings: Required<QueueSettings>;

  constructor(store: SqliteStore, settings: QueueSettings) {
    this.#store = store;
    this.#settings = { now: Date.now, ...settings };
  }

  get #db() {
    return this.#store.database;
  }

  /** Statements are compiled once and reused: preparing costs more than running these small queries. */
  readonly #statements = new Map<string, Database.Statement>();

  #sql(text: string): Database.Statement {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  /** Enqueues waiting for the next group commit. */
  #pending: Array<{ request: EnqueueRequest; resolve: (e: Enqueued) => void; reject: (err: unknown) => void }> = [];

  #tx<T>(what: string, fn: (now: number) => T): Promise<T> {
    try {
      const now = this.#settings.now();
      return Promise.resolve(this.#db.transaction(() => fn(now)).immediate());
    } catch (err) {
      if (err instanceof ImggateError) return Promise.reject(err);
      return Promise.reject(new ImggateError<StoreErrorCode>('STORE_FAILED', `queue: ${what} failed in ${this.#store.file}: ${(err as Error).message}`, { cause: err }));
    }
  }

  /**
   * Enqueues arriving together commit together: one transaction, so one sync to disk, for every webhook
   * received in the same turn of the event loop. Each request runs in its own savepoint, so a request
   * that fails is rolled back alone and answered with its own error.
   */
  enqueue(request: EnqueueRequest): Promise<Enqueued> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ request, resolve, reject });
      if (this.#pending.length === 1) setImmediate(() => this.#commitPending());
    });
  }

  #commitPending(): void {
    const batch = this.#pending;
    this.#pending = [];
    const outcomes: Array<{ ok: true; value: Enqueued } | { ok: false; error: unknown }> = [];
    const one = this.#db.transaction((request: EnqueueRequest, now: number) => this.#enqueueOne(request, now));
    const all = this.#tx('enqueue', (now) => {
      outcomes.length = 0;
      for (const { request } of batch) {
        try {
          outcomes.push({ ok: true, value: one(request, now) });
        } catch (error) {
          outcomes.push({ ok: false, error: new ImggateError<StoreErrorCode>('STORE_FAILED', `queue: enqueue failed in ${this.#store.file}: ${(error as Error).message}`, { cause: error }) });
        }
      }
    });
    all.then(
      () => {
        batch.forEach((b, i) => {
          const o = outcomes[i];
          if (o?.ok) b.resolve(o.value);
          else b.reject(o?.error);
        });
      },
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  }

  #enqueueOne(request: EnqueueRequest, now: number): Enqueued {
    const { event, rulesDigest, feedsState } = request;
    const priority = PRIORITIES[request.priority];
    const seen = this.#sql('SELECT job_id FROM events WHERE receiver = ? AND event_id = ?').get(event.receiver, event.eventId) as { job_id: number } | undefined;
    if (seen) return { jobId: seen.job_id, deduped: true, duplicateEvent: true };
    const existing = this.#sql('SELECT * FROM jobs WHERE digest = ? AND rules_digest = ? AND feeds_state = ?').get(event.digest, rulesDigest, feedsState) as JobRow | undefined;
    let jobId: number;
    if (existing) {
      jobId = existing.id;
      if (existing.state === 'failed') {
        // A new request for an image that failed for good is a new chance, as a retry through the API would be.
        this.#sql(`UPDATE jobs SET state = 'queued', attempts = 0, not_before = @now, priority = MIN(priority, @priority), last_error = NULL, finished_at = NULL, updated_at = @now WHERE id = @id`).run({ id: jobId, now, priority });
      } else if (existing.state === 'queued' && priority < existing.priority) {
        this.#sql('UPDATE jobs SET priority = ?, updated_at = ? WHERE id = ?').run(priority, now, jobId);
      }
    } else {
      const info = this.#sql(
        `INSERT INTO jobs (digest, registry, repository, tag, rules_digest, feeds_state, priority, state, max_attempts, not_before, created_at, updated_at)
         VALUES (@digest, @registry, @repository, @tag, @rulesDigest, @feedsState, @priority, 'queued', @maxAttempts, @now, @now, @now)`,
      ).run({
        digest: event.digest,
        registry: event.registry,
        repository: event.repository,
        tag: event.tag ?? null,
        rulesDigest,
        feedsState,
        priority,
        maxAttempts: this.#settings.maxAttempts,
        now,
      });
      jobId = Number(info.lastInsertRowid);
    }
    this.#sql(
      `INSERT INTO events (receiver, event_id, registry, repository, tag, digest, job_id, received_at)
       VALUES (@receiver, @eventId, @registry, @repository, @tag, @digest, @jobId, @now)`,
    ).run({ receiver: event.receiver, eventId: event.eventId, registry: event.registry, repository: event.repository, tag: event.tag ?? null, digest: event.digest, jobId, now });
    return { jobId, deduped: existing !== undefined, duplicateEvent: false };
  }

  claim(worker: string): Promise<Lease | undefined> {
    return this.#tx('claim', (now) => {
      const row = this.#sql(`SELECT id FROM jobs WHERE state = 'queued' AND not_before <= ? ORDER BY priority, not_before, id LIMIT 1`).get(now) as { id: number } | undefined;
      if (!row) return undefined;
      const expiresAt = now + this.#settings.leaseMs;
      this.#sql(
        `UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = @worker, lease_token = lease_token + 1,
           lease_expires = @expiresAt, updated_at = @now WHERE id = @id`,
      ).run({ id: row.id, worker, expiresAt, now });
      const job = this.#sql('SELECT * FROM jobs WHERE id = ?').get(row.id) as JobRow;
      return { job: toJob(job), token: job.lease_token, expiresAt };
    });
  }

  /** Whether `lease` is still the job's live lease at `now`: the fence every write passes through. */
  #holds(lease: LeaseRef, now: number): boolean {
    const row = this.#sql('SELECT state, lease_token, lease_expires FROM jobs WHERE id = ?').get(lease.job.id) as
      | Pick<JobRow, 'state' | 'lease_token' | 'lease_expires'>
      | undefined;
    return row !== undefined && row.state === 'running' && row.lease_token === lease.token && row.lease_expires !== null && row.lease_expires > now;
  }

  heartbeat(lease: LeaseRef): Promise<boolean> {
    return this.#tx('heartbeat', (now) => {
      if (!this.#holds(lease, now)) return false;
      this.#sql('UPDATE jobs SET lease_expires = ?, updated_at = ? WHERE id = ?').run(now + this.#settings.leaseMs, now, lease.job.id);
      return true;
    });
  }

  complete(lease: LeaseRef, result: JobResult): Promise<boolean> {
    return this.#tx('complete', (now) => {
      if (!this.#holds(lease, now)) return false;
      for (const v of result.verdicts) this.#store.insert(v, lease.job.id);
      this.#sql(
        `UPDATE jobs SET state = 'done', verdict = @verdict, lease_owner = NULL, lease_expires = NULL, last_error = NULL,
           finished_at = @now, updated_at = @now WHERE id = @id`,
      ).run({ id: lease.job.id, verdict: result.verdict, now });
      return true;
    });
  }

  fail(lease: LeaseRef, error: string): Promise<FailOutcome> {
    return this.#tx('fail', (now) => {
      if (!this.#holds(lease, now)) return 'lost';
      return this.#requeueOrFail(lease.job.id, error, now);
    });
  }

  /** A failed attempt waits out its backoff; a lost worker's job is put back at once (`backoff` false). */
  #requeueOrFail(id: number, error: string, now: number, backoff = true): 'retrying' | 'failed' {
    const row = this.#sql('SELECT attempts, max_attempts FROM jobs WHERE id = ?').get(id) as Pick<JobRow, 'attempts' | 'max_attempts'>;
    if (row.attempts >= row.max_attempts) {
      this.#sql(`UPDATE jobs SET state = 'failed', last_error = ?, lease_owner = NULL, lease_expires = NULL, finished_at = ?, updated_at = ? WHERE id = ?`)
        .run(error, now, now, id);
      return 'failed';
    }
    const delay = !backoff ? 0 : Math.min(this.#settings.backoffMaxMs, this.#settings.backoffMs * 2 ** Math.max(0, row.attempts - 1));
    this.#db
      .prepare(`UPDATE jobs SET state = 'queued', last_error = ?, lease_owner = NULL, lease_expires = NULL, not_before = ?, updated_at = ? WHERE id = ?`)
      .run(error, now + delay, now, id);
    return 'retrying';
  }

  release(lease: LeaseRef): Promise<boolean> {
    return this.#tx('release', (now) => {
      if (!this.#holds(lease, now)) return false;
      this.#sql(`UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), lease_owner = NULL, lease_expires = NULL, not_before = ?, updated_at = ? WHERE id = ?`)
        .run(now, now, lease.job.id);
      return true;
    });
  }

  expireLeases(): Promise<number> {
    return this.#tx('expire leases', (now) => {
      const rows = this.#sql(`SELECT id, lease_owner FROM jobs WHERE state = 'running' AND lease_expires <= ?`).all(now) as Array<Pick<JobRow, 'id' | 'lease_owner'>>;
      for (const r of rows) this.#requeueOrFail(r.id, `the lease of worker ${r.lease_owner ?? '?'} expired`, now, false);
      return rows.length;
    });
  }

  retry(jobId: number): Promise<boolean> {
    return this.#tx('retry', (now) => {
      const info = this.#sql(`UPDATE jobs SET state = 'queued', attempts = 0, not_before = ?, finished_at = NULL, updated_at = ? WHERE id = ? AND state = 'failed'`)
        .run(now, now, jobId);
      return info.changes === 1;
    });
  }

  get(jobId: number): Promise<Job | undefined> {
    return this.#tx('get', () => {
      const row = this.#sql('SELECT * FROM jobs WHERE id = ?').get(jobId) as JobRow | undefined;
      return row ? toJob(row) : undefined;
    });
  }

  list(filter: JobFilter): Promise<JobPage> {
    return this.#tx('list', () => {
      const where: string[] = [];
      const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500);
      const params: Record<string, string | number> = { limit: limit + 1 };
      const add = (clause: string, name: string, value: string | number | undefined): void => {
        if (value === undefined) return;
        where.push(clause);
        params[name] = value;
      };
      add('repository = @repository', 'repository', filter.repository);
      add('verdict = @verdict', 'verdict', filter.verdict);
      add('state = @state', 'state', filter.state);
      add('created_at >= @since', 'since', filter.since);
      add('created_at < @until', 'until', filter.until);
      add('id < @cursor', 'cursor', filter.cursor);
      const rows = this.#sql(`SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`)
        .all(params) as JobRow[];
      const jobs = rows.slice(0, limit).map(toJob);
      const last = jobs[jobs.length - 1];
      return rows.length > limit && last ? { jobs, next: last.id } : { jobs };
    });
  }

  events(jobId: number): Promise<StoredEvent[]> {
    return this.#tx('events', () => {
      const rows = this.#sql('SELECT * FROM events WHERE job_id = ? ORDER BY id').all(jobId) as EventRow[];
      return rows.map(toEvent);
    });
  }

  stats(): Promise<QueueStats> {
    return this.#tx('stats', (now) => {
      const counts = this.#sql('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as Array<{ state: JobState; n: number }>;
      const by = (s: JobState): number => counts.find((c) => c.state === s)?.n ?? 0;
      const oldest = this.#sql(`SELECT MIN(not_before) AS t FROM jobs WHERE state = 'queued' AND not_before <= ?`).get(now) as { t: number | null };
      return { queued: by('queued'), running: by('running'), failed: by('failed'), done: by('done'), oldestQueuedMs: oldest.t === null ? 0 : now - oldest.t };
    });
  }

  ping(): Promise<void> {
    return this.#tx('ping', () => {
      this.#sql('SELECT 1').get();
    });
  }
}
