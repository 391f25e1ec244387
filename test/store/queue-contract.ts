import assert from 'node:assert/strict';
import type { Report } from '../../src/report/types.js';
import type { EnqueueRequest, JobPriority, JobQueue, QueueSettings } from '../../src/store/queue.js';
import type { NewVerdict } from '../../src/store/types.js';

/** A backend under test: the queue on a fresh, empty store, driven by a clock the suite moves. */
export interface QueueBackend {
  readonly queue: JobQueue;
  /** How many verdict rows the store holds for a job (the fencing tests count them). */
  verdictsOf(jobId: number): Promise<number>;
  close(): Promise<void>;
}

export interface Clock {
  now(): number;
  advance(ms: number): void;
}

/** The settings every backend runs the suite with. */
export const CONTRACT_SETTINGS = { leaseMs: 10_000, maxAttempts: 3, backoffMs: 1_000, backoffMaxMs: 3_000 } as const;

export const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

/** An enqueue request for image n (its digest), with a fresh event id unless one is given. */
export function request(n: number, options: { eventId?: string; priority?: JobPriority; rules?: string; feeds?: string; receiver?: string; tag?: string } = {}): EnqueueRequest {
  return {
    event: {
      receiver: options.receiver ?? 'distribution',
      eventId: options.eventId ?? `event-${n}-${Math.random()}`,
      registry: 'r.example',
      repository: `team/app${n % 2}`,
      ...(options.tag ? { tag: options.tag } : {}),
      digest: digest(n),
    },
    priority: options.priority ?? 'push',
    rulesDigest: options.rules ?? 'sha256:rules-a',
    feedsState: options.feeds ?? 'feeds-1',
  };
}

/** A verdict row for image n, as a job's result carries it. */
export function verdictRow(n: number, verdict: Report['verdict']): NewVerdict {
  const checkedAt = new Date(0).toISOString();
  const reference = `r.example/team/app@${digest(n)}`;
  return {
    digest: digest(n),
    reference,
    repository: 'r.example/team/app',
    verdict,
    checkedAt,
    report: { schema: 'imggate.report/v1', image: { reference, digest: digest(n), mediaType: 'm', source: 'registry' }, verdict, findings: [], signatures: [], checkedAt, durationMs: 0 },
  };
}

/**
 * The durable queue's semantics as a suite any backend runs unchanged: `open` gets the settings and a
 * clock and returns the queue on an empty store.
 */
export function queueContract(name: string, open: (settings: QueueSettings, clock: Clock) => Promise<QueueBackend>): void {
  describe(`the job queue contract: ${name}`, function () {
    let backend: QueueBackend;
    let queue: JobQueue;
    let t: number;
    const clock: Clock = { now: () => t, advance: (ms) => void (t += ms) };

    beforeEach(async function () {
      t = Date.UTC(2026, 0, 1);
      backend = await open({ ...CONTRACT_SETTINGS, now: clock.now }, clock);
      queue = backend.queue;
    });
    afterEach(async function () {
      await backend.close();
    });

    it('hands a job to one worker at a time', async function () {
      const { jobId, deduped } = await queue.enqueue(request(1, { tag: '1.0' }));
      assert.equal(deduped, false);
      const lease = await queue.claim('w1');
      assert.equal(lease?.job.id, jobId);
      assert.equal(lease?.job.state, 'running');
      assert.equal(lease?.job.attempts, 1);
      assert.equal(lease?.job.tag, '1.0');
      assert.equal(await queue.claim('w2'), undefined);
    });

    it('dedupes by digest, rules and feeds, links every event to the one job, and ignores redelivered event ids', async function () {
      const first = await queue.enqueue(request(1, { eventId: 'a', tag: 'v1' }));
      const retag = await queue.enqueue(request(1, { eventId: 'b', tag: 'latest' }));
      const redelivered = await queue.enqueue(request(1, { eventId: 'b', tag: 'latest' }));
      const otherReceiver = await queue.enqueue(request(1, { eventId: 'b', receiver: 'harbor' }));
      assert.deepEqual([retag.jobId, redelivered.jobId, otherReceiver.jobId], [first.jobId, first.jobId, first.jobId]);
      assert.deepEqual([retag.deduped, retag.duplicateEvent], [true, false]);
      assert.deepEqual([redelivered.deduped, redelivered.duplicateEvent], [true, true]);
      assert.deepEqual((await queue.events(first.jobId)).map((e) => [e.receiver, e.eventId, e.tag]), [
        ['distribution', 'a', 'v1'],
        ['distribution', 'b', 'latest'],
        ['harbor', 'b', undefined],
      ]);
      const cases: Array<[string, EnqueueRequest]> = [
        ['other rules', request(1, { rules: 'sha256:rules-b' })],
        ['other feeds', request(1, { feeds: 'feeds-2' })],
        ['other digest', request(2)],
      ];
      for (const [why, r] of cases) {
        const e = await queue.enqueue(r);
        assert.notEqual(e.jobId, first.jobId, why);
        assert.equal(e.deduped, false, why);
      }
    });

    it('dedupes just the same when the requests arrive together (a burst of webhooks, committed as one)', async function () {
      const burst = await Promise.all([
        queue.enqueue(request(7, { eventId: 'x', tag: 'v1' })),
        queue.enqueue(request(7, { eventId: 'y', tag: 'v2' })),
        queue.enqueue(request(7, { eventId: 'y', tag: 'v2' })),
        queue.enqueue(request(8, { eventId: 'z' })),
      ]);
      const [x, y, yAgain, z] = burst;
      assert.ok(x && y && yAgain && z);
      assert.deepEqual([x.deduped, y.deduped, yAgain.duplicateEvent, z.deduped], [false, true, true, false]);
      assert.deepEqual([y.jobId, yAgain.jobId], [x.jobId, x.jobId]);
      assert.notEqual(z.jobId, x.jobId);
      assert.deepEqual((await queue.events(x.jobId)).map((e) => e.eventId), ['x', 'y']);
      // Every acknowledged request is committed: both jobs are there to be claimed.
      const claimed = [await queue.claim('w1'), await queue.claim('w1'), await queue.claim('w1')];
      assert.deepEqual(claimed.map((l) => l?.job.digest), [digest(7), digest(8), undefined]);
    });

    it('runs pushes before manual checks before reconciled images before rescans, oldest first within each', async function () {
      const order: Array<[number, JobPriority]> = [[1, 'rescan'], [6, 'reconcile'], [2, 'manual'], [3, 'push'], [4, 'manual'], [5, 'push']];
      const ids = new Map<number, number>();
      for (const [n, priority] of order) {
        ids.set(n, (await queue.enqueue(request(n, { priority }))).jobId);
        clock.advance(1);
      }
      const claimed: number[] = [];
      for (let lease = await queue.claim('w'); lease; lease = await queue.claim('w')) claimed.push(lease.job.id);
      assert.deepEqual(claimed, [3, 5, 2, 4, 6, 1].map((n) => ids.get(n)));
    });

    it('raises a queued job to the priority of a later, more urgent request', async function () {
      const rescan = await queue.enqueue(request(1, { priority: 'rescan' }));
      await queue.enqueue(request(2, { priority: 'manual' }));
      await queue.enqueue(request(1, { priority: 'push' }));
      assert.equal((await queue.get(rescan.jobId))?.priority, 'push');
      assert.equal((await queue.claim('w'))?.job.id, rescan.jobId);
    });

    it('puts a job back when its lease expires, and fences the worker that lost it', async function () {
      const { jobId } = await queue.enqueue(request(1));
      const lost = await queue.claim('w1');
      assert.ok(lost);
      clock.advance(CONTRACT_SETTINGS.leaseMs);
      assert.equal(await queue.heartbeat(lost), false, 'an expired lease cannot be extended');
      assert.equal(await queue.expireLeases(), 1);
      assert.equal((await queue.get(jobId))?.state, 'queued');
      const taken = await queue.claim('w2');
      assert.ok(taken);
      assert.ok(taken.token > lost.token, 'each claim gets a newer fencing token');
      assert.equal(taken.job.attempts, 2);
      assert.equal(await queue.complete(lost, { verdict: 'pass', verdicts: [verdictRow(1, 'pass')] }), false);
      assert.equal(await queue.fail(lost, 'late'), 'lost');
      assert.equal(await queue.release(lost), false);
      assert.equal(await backend.verdictsOf(jobId), 0, 'the fenced-off worker wrote nothing');
      assert.equal(await queue.complete(taken, { verdict: 'fail', verdicts: [verdictRow(1, 'fail')] }), true);
      assert.equal(await queue.complete(taken, { verdict: 'fail', verdicts: [verdictRow(1, 'fail')] }), false, 'a job completes once');
      const done = await queue.get(jobId);
      assert.deepEqual([done?.state, done?.verdict, done?.leaseOwner], ['done', 'fail', undefined]);
      assert.equal(await backend.verdictsOf(jobId), 1);
    });

    it('keeps a lease alive while the worker heartbeats', async function () {
      await queue.enqueue(request(1));
      const lease = await queue.claim('w1');
      assert.ok(lease);
      for (let i = 0; i < 5; i++) {
        clock.advance(CONTRACT_SETTINGS.leaseMs * 0.6);
        assert.equal(await queue.heartbeat(lease), true);
        assert.equal(await queue.expireLeases(), 0);
      }
      assert.equal(await queue.complete(lease, { verdict: 'pass', verdicts: [] }), true);
    });

    it('retries with growing backoff, then fails for good, visibly, until retried', async function () {
      const { jobId } = await queue.enqueue(request(1));
      const delays = [CONTRACT_SETTINGS.backoffMs, CONTRACT_SETTINGS.backoffMs * 2];
      for (const delay of delays) {
        const lease = await queue.claim('w');
        assert.ok(lease);
        assert.equal(await queue.fail(lease, 'registry unreachable'), 'retrying');
        clock.advance(delay - 1);
        assert.equal(await queue.claim('w'), undefined, `not before ${delay} ms`);
        clock.advance(1);
      }
      const last = await queue.claim('w');
      assert.equal(last?.job.attempts, CONTRACT_SETTINGS.maxAttempts);
      assert.ok(last);
      assert.equal(await queue.fail(last, 'registry unreachable'), 'failed');
      const failed = await queue.get(jobId);
      assert.deepEqual([failed?.state, failed?.lastError], ['failed', 'registry unreachable']);
      clock.advance(60_000);
      assert.equal(await queue.claim('w'), undefined, 'a failed job is not retried on its own');
      assert.deepEqual((await queue.list({ state: 'failed' })).jobs.map((j) => j.id), [jobId]);
      assert.equal(await queue.retry(jobId), true);
      assert.equal(await queue.retry(jobId), false, 'only a failed job can be retried');
      const again = await queue.claim('w');
      assert.deepEqual([again?.job.id, again?.job.attempts], [jobId, 1]);
    });

    it('caps the backoff', async function () {
      const b = await open({ leaseMs: 10_000, maxAttempts: 10, backoffMs: 1_000, backoffMaxMs: 3_000, now: clock.now }, clock);
      try {
        await b.queue.enqueue(request(1));
        for (const delay of [1_000, 2_000, 3_000, 3_000]) {
          const lease = await b.queue.claim('w');
          assert.ok(lease);
          assert.equal(await b.queue.fail(lease, 'x'), 'retrying');
          clock.advance(delay - 1);
          assert.equal(await b.queue.claim('w'), undefined);
          clock.advance(1);
        }
      } finally {
        await b.close();
      }
    });

    it('fails a job whose lease expired on its last attempt (a worker that keeps dying does not loop forever)', async function () {
      const { jobId } = await queue.enqueue(request(1));
      for (let i = 0; i < CONTRACT_SETTINGS.maxAttempts; i++) {
        clock.advance(CONTRACT_SETTINGS.backoffMaxMs);
        assert.ok(await queue.claim('w'), `attempt ${i + 1}`);
        clock.advance(CONTRACT_SETTINGS.leaseMs);
        assert.equal(await queue.expireLeases(), 1);
      }
      const job = await queue.get(jobId);
      assert.equal(job?.state, 'failed');
      assert.match(job?.lastError ?? '', /lease/);
    });

    it('takes a released job back at once without counting the attempt', async function () {
      await queue.enqueue(request(1));
      const lease = await queue.claim('w1');
      assert.ok(lease);
      assert.equal(await queue.release(lease), true);
      const again = await queue.claim('w2');
      assert.equal(again?.job.attempts, 1);
    });

    it('queues a failed image again when it is pushed again', async function () {
      const { jobId } = await queue.enqueue(request(1));
      for (let i = 0; i < CONTRACT_SETTINGS.maxAttempts; i++) {
        clock.advance(CONTRACT_SETTINGS.backoffMaxMs);
        const lease = await queue.claim('w');
        assert.ok(lease);
        await queue.fail(lease, 'x');
      }
      assert.equal((await queue.get(jobId))?.state, 'failed');
      const again = await queue.enqueue(request(1));
      assert.equal(again.jobId, jobId);
      assert.deepEqual([(await queue.get(jobId))?.state, (await queue.get(jobId))?.attempts], ['queued', 0]);
    });

    it('lists newest first, filtered by repository, verdict, state and time, in pages', async function () {
      const start = t;
      for (let n = 1; n <= 7; n++) {
        await queue.enqueue(request(n));
        clock.advance(1_000);
      }
      for (let lease = await queue.claim('w'); lease; lease = await queue.claim('w')) {
        await queue.complete(lease, { verdict: lease.job.id % 3 === 0 ? 'fail' : 'pass', verdicts: [] });
      }
      const all: number[] = [];
      let cursor: number | undefined;
      do {
        const page = await queue.list({ limit: 3, cursor });
        assert.ok(page.jobs.length <= 3);
        all.push(...page.jobs.map((j) => j.id));
        cursor = page.next;
      } while (cursor !== undefined);
      assert.equal(all.length, 7);
      assert.deepEqual(all, [...all].sort((a, b) => b - a));
      const app1 = await queue.list({ repository: 'team/app1' });
      assert.ok(app1.jobs.length > 0 && app1.jobs.every((j) => j.repository === 'team/app1'));
      const failed = await queue.list({ verdict: 'fail' });
      assert.ok(failed.jobs.length > 0 && failed.jobs.every((j) => j.verdict === 'fail'));
      const window = await queue.list({ since: start + 2_000, until: start + 4_000 });
      assert.equal(window.jobs.length, 2);
      assert.equal((await queue.list({ state: 'queued' })).jobs.length, 0);
    });

    it('says how deep the queue is and how old its oldest job', async function () {
      await queue.enqueue(request(1));
      clock.advance(5_000);
      await queue.enqueue(request(2));
      const lease = await queue.claim('w');
      assert.ok(lease);
      const s = await queue.stats();
      assert.deepEqual([s.queued, s.running, s.failed, s.done], [1, 1, 0, 0]);
      assert.equal(s.oldestQueuedMs, 0);
      clock.advance(2_000);
      assert.equal((await queue.stats()).oldestQueuedMs, 2_000);
      await queue.ping();
    });
  });
}
