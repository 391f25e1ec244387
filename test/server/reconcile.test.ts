import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { ImggateError } from '../../src/errors.js';
import { Ingest } from '../../src/server/ingest.js';
import { silentLogger } from '../../src/server/log.js';
import { Metrics } from '../../src/server/metrics.js';
import { Reconciler, type RegistryLister } from '../../src/server/reconcile.js';
import { matching, parseWatch } from '../../src/server/watch.js';
import { openServiceStore, type ServiceStore } from '../../src/store/index.js';
import { forEachBackend, type StoreSection } from '../store/backends.js';

const R = 'registry.example';
const d = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;

/** A registry in memory: repository → tag → digest; `down` repositories fail as an unreachable registry would. */
function fakeRegistry(repos: Record<string, Record<string, string>>, down = new Set<string>(), gate?: Promise<void>) {
  const calls: string[] = [];
  const lister = (): RegistryLister => ({
    repositories: async () => Object.keys(repos),
    tags: async (repository) => {
      calls.push(repository);
      await gate;
      if (down.has(repository)) throw new ImggateError('NETWORK', `cannot reach ${R}`);
      const tags = repos[repository];
      if (!tags) throw new ImggateError('NOT_FOUND', `${repository}: NAME_UNKNOWN`);
      return Object.keys(tags);
    },
    digest: async (repository, tag) => {
      const digest = repos[repository]?.[tag];
      if (!digest) throw new ImggateError('NOT_FOUND', `${repository}:${tag}`);
      return digest;
    },
    exists: async (repository, digest) => Object.values(repos[repository] ?? {}).includes(digest),
    close: () => undefined,
  });
  return { lister, calls };
}

describe('the reconcile loop', function () {
  this.timeout(60_000);

  it('reads watched repositories as names or globs over the catalog', function () {
    const catalog = ['team/app', 'team/api', 'team/sub/deep', 'teamx/app', 'other'];
    const cases: Array<[string, string[]]> = [
      [`${R}/team/app`, ['team/app']],
      [`${R}/team/*`, ['team/app', 'team/api']],
      [`${R}/team/**`, ['team/app', 'team/api', 'team/sub/deep']],
      [`${R}/team/a*`, ['team/app', 'team/api']],
      [`${R}/**`, catalog],
      [`${R}/*/app`, ['team/app', 'teamx/app']],
    ];
    for (const [text, expected] of cases) assert.deepEqual(matching(parseWatch(text), catalog), expected, text);
    assert.equal(parseWatch(`${R}:5000/a`).registry, `${R}:5000`);
    for (const bad of ['registry-only', `${R}/`, `${R}/Team`, `${R}/a//b`, `${R}/a/../b`]) assert.throws(() => parseWatch(bad), /registry\/repository|not a repository path segment/, bad);
  });

  forEachBackend((backend) => {
    let section: StoreSection;
    const stores: ServiceStore[] = [];
    const open = async (): Promise<ServiceStore> => {
      const s = await openServiceStore(configSchema.parse({ store: section }), {}, { leaseMs: 10_000, maxAttempts: 3, backoffMs: 1, backoffMaxMs: 1 }, 4);
      stores.push(s);
      return s;
    };
    beforeEach(async () => {
      section = await backend().fresh();
    });
    afterEach(async () => {
      await Promise.all(stores.splice(0).map((s) => s.close()));
    });

    const reconciler = (store: ServiceStore, lister: () => RegistryLister, watch: string[], owner = 'p1') => {
      // Every reading of the clock a millisecond later: what a pass sees is never of the instant it started.
      let t = 1_000;
      const now = (): number => ++t;
      const metrics = new Metrics(store.queue);
      const ingest = new Ingest({
        queue: store.queue,
        images: store.images,
        allow: new Set([R]),
        resolveTag: () => Promise.reject(new Error('reconcile events carry digests')),
        rulesDigest: 'rules',
        feedsState: async () => 'feeds',
        metrics,
        log: silentLogger,
        notify: () => undefined,
        now,
      });
      return new Reconciler({ images: store.images, ingest, lister, watch: watch.map(parseWatch), intervalMs: 1_000, owner, metrics, log: silentLogger, now });
    };

    it('queues every tag once, removes what is gone, and leaves a repository it could not list as it was', async function () {
      const store = await open();
      const repos: Record<string, Record<string, string>> = { 'team/app': { '1': d(1), '2': d(2), [`sha256-${'a'.repeat(64)}`]: d(9) }, 'team/down': { x: d(3) } };
      const down = new Set<string>();
      const { lister } = fakeRegistry(repos, down);
      const r = reconciler(store, lister, [`${R}/team/*`, `${R}/gone`]);
      assert.deepEqual(await r.pass(), { repositories: 3, queued: 3, removed: 0, failures: 0 });
      assert.deepEqual((await store.images.current()).map((i) => [i.repository, i.digest, i.tags]), [['team/app', d(1), ['1']], ['team/app', d(2), ['2']], ['team/down', d(3), ['x']]]);
      // A second pass: the same events again, nothing new.
      assert.deepEqual(await r.pass(), { repositories: 3, queued: 0, removed: 0, failures: 0 });
      assert.equal((await store.queue.list({})).jobs.length, 3);
      assert.deepEqual((await store.queue.list({})).jobs.map((j) => j.priority), ['reconcile', 'reconcile', 'reconcile']);

      // A tag deleted, the other repository unreachable, a digest-only image gone, a repository deleted.
      await store.images.seen(R, 'team/app', undefined, d(5), 1);
      await store.images.seen(R, 'gone', 'old', d(6), 1);
      delete repos['team/app']?.['2'];
      down.add('team/down');
      assert.deepEqual(await r.pass(), { repositories: 2, queued: 0, removed: 3, failures: 1 });
      assert.deepEqual((await store.images.current()).map((i) => [i.repository, i.digest, i.tags]), [['team/app', d(1), ['1']], ['team/down', d(3), ['x']]]);
    });

    it('runs a pass in one process at a time: the lock holder keeps it until it stops', async function () {
      let open1!: () => void;
      const gate = new Promise<void>((resolve) => (open1 = resolve));
      const repos = { 'team/app': { '1': d(1) } };
      const slow = fakeRegistry(repos, new Set(), gate);
      const fast = fakeRegistry(repos);
      const [s1, s2] = [await open(), await open()];
      const first = reconciler(s1, slow.lister, [`${R}/team/app`], 'p1');
      const second = reconciler(s2, fast.lister, [`${R}/team/app`], 'p2');
      const running = first.pass();
      await new Promise<void>((resolve) => {
        const look = (): void => void (slow.calls.length ? resolve() : setTimeout(look, 10));
        look();
      });
      // p1 is in the middle of its pass: p2 gets no lock and lists nothing.
      assert.equal(await second.pass(), undefined);
      assert.deepEqual(fast.calls, []);
      open1();
      assert.equal((await running)?.queued, 1);
      // Still p1's between passes (it renews it every pass) …
      assert.equal(await second.pass(), undefined);
      // … until it stops and gives it up.
      await first.stop();
      assert.deepEqual(await second.pass(), { repositories: 1, queued: 0, removed: 0, failures: 0 });
      assert.deepEqual(fast.calls, ['team/app']);
      await second.stop();
    });
  });
});
