import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Metrics } from '../../src/server/metrics.js';
import { Rescanner, type RescanDeps } from '../../src/server/rescan.js';
import { SqliteImageStore } from '../../src/store/sqlite-images.js';
import { SqliteJobQueue } from '../../src/store/sqlite-queue.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { CONTRACT_SETTINGS, digest, request } from '../store/queue-contract.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('rescans when the rules or feeds change', function () {
  let dir: string;
  let store: SqliteStore;
  let queue: SqliteJobQueue;
  let images: SqliteImageStore;
  let feeds: string;
  let busy: boolean;

  const rescanner = (overrides: Partial<RescanDeps> = {}): Rescanner =>
    new Rescanner({
      queue,
      images: () => images.current(),
      rulesDigest: 'sha256:rules',
      feedsState: async () => feeds,
      feedsBusy: async () => busy,
      intervalMs: 60_000,
      metrics: new Metrics(queue),
      log: quiet,
      notify: () => undefined,
      ...overrides,
    });

  beforeEach(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-rescan-'));
    store = new SqliteStore(path.join(dir, 'imggate.db'));
    queue = new SqliteJobQueue(store, CONTRACT_SETTINGS);
    images = new SqliteImageStore(store);
    feeds = 'feeds-1';
    busy = false;
    // Three current images (one pushed under two tags), checked under the current state, and one deleted.
    for (const [n, tag] of [[1, 'a'], [1, 'b'], [2, 'c'], [3, 'd'], [4, 'e']] as const) {
      const r = request(n, { eventId: `push-${n}-${tag}`, rules: 'sha256:rules', feeds: 'feeds-1', tag });
      await queue.enqueue(r);
      await images.seen(r.event.registry, r.event.repository, tag, r.event.digest, Date.now());
    }
    await images.removed({ registry: 'r.example', repository: 'team/app0', tag: 'e' }, Date.now());
  });
  afterEach(async function () {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('queues nothing while the state is the one the images were checked under', async function () {
    assert.equal(await rescanner().queueRescans(), 0);
    assert.equal((await queue.stats()).queued, 4);
  });

  it('queues one low-priority job per image when the feeds change, once across processes', async function () {
    feeds = 'feeds-2';
    const a = rescanner();
    const b = rescanner();
    const [x, y] = await Promise.all([a.queueRescans(), b.queueRescans()]);
    assert.equal(x + y, 3, 'two processes noticing the same change queue each image once');
    assert.equal(await a.queueRescans(), 0, 'the same state again queues nothing');
    const page = await queue.list({ limit: 100 });
    const rescans = page.jobs.filter((j) => j.priority === 'rescan');
    assert.deepEqual(rescans.map((j) => j.digest).sort(), [digest(1), digest(2), digest(3)], 'each current image once; the deleted one not');
    assert.ok(rescans.every((j) => j.feedsState === 'feeds-2' && j.rulesDigest === 'sha256:rules'));
    // Pushes go first: every push is claimed before any rescan.
    const claimed: string[] = [];
    for (let lease = await queue.claim('w'); lease; lease = await queue.claim('w')) claimed.push(lease.job.priority);
    assert.deepEqual(claimed, ['push', 'push', 'push', 'push', 'rescan', 'rescan', 'rescan']);
  });

  it('leaves the work to the holder of the rescan lock, and takes it over once that lock expired', async function () {
    let now = 0;
    const locked = (owner: string): (() => Promise<boolean>) => () => images.tryLock('rescan', owner, 1_000);
    const clocked = new SqliteImageStore(store, () => now);
    images = clocked;
    feeds = 'feeds-2';
    const a = rescanner({ lock: locked('a') });
    const b = rescanner({ lock: locked('b') });
    assert.equal(await a.queueRescans(), 3);
    feeds = 'feeds-3';
    now = 500;
    assert.equal(await b.queueRescans(), 0, 'a holds the lock');
    now = 2_000;
    assert.equal(await b.queueRescans(), 3, 'a stopped renewing it: b takes over');
  });

  it('queues for changed rules too', async function () {
    assert.equal(await rescanner({ rulesDigest: 'sha256:other-rules' }).queueRescans(), 3);
  });

  it('waits while a feed update holds the lock, then queues for the state it left', async function () {
    const r = rescanner();
    feeds = 'half-updated';
    busy = true;
    assert.equal(await r.queueRescans(), 0);
    feeds = 'feeds-2';
    busy = false;
    assert.equal(await r.queueRescans(), 3);
    const states = new Set((await queue.list({ limit: 100 })).jobs.map((j) => j.feedsState));
    assert.ok(!states.has('half-updated'));
  });

  it('runs the scheduled feed update before it looks, and keeps going when the update fails', async function () {
    let now = 0;
    let runs = 0;
    const r = rescanner({
      now: () => now,
      feedsUpdate: {
        everyMs: 1_000,
        run: async () => {
          runs++;
          if (runs === 1) throw new Error('mirror unreachable');
          feeds = 'feeds-3';
        },
      },
    });
    now = 1_000;
    await r.tick();
    assert.equal(runs, 1);
    assert.equal((await queue.stats()).queued, 4, 'a failed update changes nothing');
    now = 1_500;
    await r.tick();
    assert.equal(runs, 1, 'not due yet');
    now = 2_000;
    await r.tick();
    assert.equal(runs, 2);
    assert.equal((await queue.stats()).queued, 7);
    // A process without the rescan lock neither updates the feeds nor queues.
    const other = rescanner({ now: () => now, lock: async () => false, feedsUpdate: { everyMs: 1, run: async () => void runs++ } });
    now = 5_000;
    feeds = 'feeds-4';
    await other.tick();
    assert.equal(runs, 2);
    assert.equal((await queue.stats()).queued, 7);
  });
});
