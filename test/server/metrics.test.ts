import assert from 'node:assert/strict';
import { ImggateError } from '../../src/errors.js';
import { Metrics } from '../../src/server/metrics.js';
import type { JobQueue, QueueStats } from '../../src/store/queue.js';

/** A queue of which the metrics read only the stats; every other call would be a mistake of the test. */
function queueWithStats(stats: () => Promise<QueueStats>): { queue: JobQueue; reads: () => number } {
  let reads = 0;
  const queue = {
    stats: () => {
      reads++;
      return stats();
    },
  } as Pick<JobQueue, 'stats'> as JobQueue;
  return { queue, reads: () => reads };
}

describe('serve metrics: the queue read at scrape time', function () {
  it('reads the store once per scrape for all the queue gauges', async function () {
    const { queue, reads } = queueWithStats(async () => ({ queued: 3, running: 1, failed: 0, done: 7, oldestQueuedMs: 2_500 }));
    const metrics = new Metrics(queue);
    metrics.requests.inc({ receiver: 'distribution', status: '202' });
    const text = await metrics.registry.metrics();
    assert.match(text, /^imggate_store_up 1$/m);
    assert.match(text, /^imggate_queue_jobs\{state="queued"\} 3$/m);
    assert.match(text, /^imggate_queue_jobs\{state="done"\} 7$/m);
    assert.match(text, /^imggate_queue_oldest_job_age_seconds 2.5$/m);
    assert.equal(reads(), 1);
  });

  it('still answers while the store is away: the counters, no job counts, and imggate_store_up 0', async function () {
    let down = false;
    const { queue } = queueWithStats(async () => {
      if (down) throw new ImggateError('STORE_FAILED', 'queue: stats failed: connect ECONNREFUSED');
      return { queued: 3, running: 1, failed: 0, done: 7, oldestQueuedMs: 0 };
    });
    const metrics = new Metrics(queue);
    metrics.requests.inc({ receiver: 'distribution', status: '503' });
    await metrics.registry.metrics();
    down = true;
    const text = await metrics.registry.metrics();
    assert.match(text, /^imggate_store_up 0$/m);
    assert.match(text, /^imggate_requests_total\{receiver="distribution",status="503"\} 1$/m);
    // Last scrape's counts are not repeated as if they were current.
    assert.doesNotMatch(text, /^imggate_queue_jobs\{/m);
  });
});
