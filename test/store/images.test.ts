import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { configSchema } from '../../src/config/schema.js';
import type { Report } from '../../src/report/types.js';
import { openServiceStore, type ServiceStore } from '../../src/store/index.js';
import { forEachBackend, type StoreSection } from './backends.js';

const d = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const R = 'registry.example';

function verdict(digest: string, v: Report['verdict'], checkedAt: string) {
  const report: Report = { schema: 'imggate.report/v1', image: { reference: `${R}/app@${digest}`, digest, mediaType: 'm', source: 'registry' }, verdict: v, findings: [], signatures: [], checkedAt, durationMs: 0 };
  return { digest, reference: report.image.reference, repository: `${R}/app`, verdict: v, checkedAt, report };
}

describe('the image inventory and service locks', function () {
  this.timeout(60_000);
  forEachBackend((backend) => {
    let section: StoreSection;
    let now = 1_000;
    const open = (): Promise<ServiceStore> =>
      openServiceStore(configSchema.parse({ store: section }), {}, { leaseMs: 10_000, maxAttempts: 3, backoffMs: 1, backoffMaxMs: 1, now: () => now }, 4);
    let store: ServiceStore;
    beforeEach(async function () {
      section = await backend().fresh();
      now = 1_000;
      store = await open();
    });
    afterEach(async () => store.close());

    it('keeps tags and digests it has seen, one image per digest, until they are removed', async function () {
      const images = store.images;
      await images.seen(R, 'team/app', '1.0', d(1), 1);
      await images.seen(R, 'team/app', 'latest', d(1), 2);
      await images.seen(R, 'team/app', undefined, d(2), 3);
      await images.seen(R, 'other', 'x', d(3), 4);
      assert.deepEqual(await images.current(), [
        { registry: R, repository: 'other', digest: d(3), tags: ['x'] },
        { registry: R, repository: 'team/app', digest: d(1), tags: ['1.0', 'latest'] },
        { registry: R, repository: 'team/app', digest: d(2), tags: [] },
      ]);
      // The tag moves: the old digest keeps only what still names it.
      await images.seen(R, 'team/app', 'latest', d(4), 5);
      assert.deepEqual((await images.current()).filter((i) => i.repository === 'team/app').map((i) => [i.digest, i.tags]), [[d(1), ['1.0']], [d(2), []], [d(4), ['latest']]]);
      // Deleted by tag, and by digest (every tag naming it); a second delete changes nothing.
      assert.equal(await images.removed({ registry: R, repository: 'team/app', tag: '1.0' }, 6), 1);
      assert.equal(await images.removed({ registry: R, repository: 'team/app', tag: '1.0' }, 7), 0);
      await images.seen(R, 'other', 'y', d(3), 8);
      assert.equal(await images.removed({ registry: R, repository: 'other', digest: d(3) }, 9), 2);
      assert.deepEqual((await images.current()).map((i) => i.digest), [d(2), d(4)]);
      // Seen again: current again.
      await images.seen(R, 'team/app', '1.0', d(1), 10);
      assert.deepEqual((await images.current()).map((i) => [i.digest, i.tags]), [[d(1), ['1.0']], [d(2), []], [d(4), ['latest']]]);
      // A delete in another registry touches nothing here.
      assert.equal(await images.removed({ registry: 'elsewhere.example', repository: 'team/app', digest: d(1) }, 11), 0);
      // Several images pushed by digest alone to one repository are each an image of their own.
      await images.seen(R, 'team/app', undefined, d(5), 12);
      await images.seen(R, 'team/app', undefined, d(6), 13);
      assert.deepEqual((await images.current()).map((i) => [i.digest, i.tags]), [[d(1), ['1.0']], [d(2), []], [d(4), ['latest']], [d(5), []], [d(6), []]]);
      assert.equal(await images.removed({ registry: R, repository: 'team/app', digest: d(5) }, 14), 1);
      assert.deepEqual((await images.current()).map((i) => i.digest), [d(1), d(2), d(4), d(6)]);
    });

    it('lists images with their latest verdict, removed ones on request, by repository, in pages', async function () {
      const images = store.images;
      await images.seen(R, 'team/app', '1', d(1), 1);
      await images.seen(R, 'team/app', '2', d(2), 2);
      await images.seen(R, 'team/app', '3', d(3), 3);
      await images.seen(R, 'other', 'x', d(4), 4);
      await images.removed({ registry: R, repository: 'team/app', tag: '3' }, 5);
      await store.verdicts.add(verdict(d(1), 'fail', '2026-01-01T00:00:00.000Z'));
      await store.verdicts.add(verdict(d(1), 'pass', '2026-01-02T00:00:00.000Z'));

      const all = await images.list({});
      assert.deepEqual(all.images.map((i) => [i.repository, i.digest, i.tags, i.current]), [['other', d(4), ['x'], true], ['team/app', d(1), ['1'], true], ['team/app', d(2), ['2'], true]]);
      const first = all.images[1];
      assert.deepEqual([first?.verdict, first?.checkedAt, first?.seenAt], ['pass', '2026-01-02T00:00:00.000Z', 1]);
      assert.equal(all.images[2]?.verdict, undefined);
      assert.equal(all.next, undefined);

      const withRemoved = await images.list({ repository: 'team/app', current: false });
      assert.deepEqual(withRemoved.images.map((i) => [i.digest, i.tags, i.current, i.removedAt]), [[d(1), ['1'], true, undefined], [d(2), ['2'], true, undefined], [d(3), ['3'], false, 5]]);

      const seen: string[] = [];
      let cursor: string | undefined;
      for (let n = 0; n < 10; n++) {
        const page = await images.list({ current: false, limit: 2, cursor });
        seen.push(...page.images.map((i) => i.digest));
        cursor = page.next;
        if (!cursor) break;
      }
      assert.deepEqual(seen, [d(4), d(1), d(2), d(3)]);
    });

    it('lists, since a time, only images whose latest verdict changed then or is their first', async function () {
      const images = store.images;
      for (const n of [1, 2, 3, 4, 5]) await images.seen(R, 'team/app', `t${n}`, d(n), n);
      const verdicts: Array<[number, Report['verdict'], string]> = [
        [1, 'pass', '2026-01-01T00:00:00.000Z'], // unchanged since: pass, then pass again
        [1, 'pass', '2026-01-03T00:00:00.000Z'],
        [2, 'pass', '2026-01-01T00:00:00.000Z'], // changed: pass, then fail
        [2, 'fail', '2026-01-03T00:00:00.000Z'],
        [3, 'error', '2026-01-03T00:00:00.000Z'], // its first verdict
        [4, 'fail', '2026-01-01T00:00:00.000Z'], // changed, but before the time
        [4, 'pass', '2026-01-01T12:00:00.000Z'],
      ];
      for (const [n, v, at] of verdicts) await store.verdicts.add(verdict(d(n), v, at));
      const since = Date.parse('2026-01-02T00:00:00.000Z');
      const changed = await images.list({ changedSince: since });
      assert.deepEqual(changed.images.map((i) => [i.digest, i.verdict]), [[d(2), 'fail'], [d(3), 'error']]);
      // At the instant itself counts.
      assert.deepEqual((await images.list({ changedSince: Date.parse('2026-01-03T00:00:00.000Z') })).images.map((i) => i.digest), [d(2), d(3)]);
      assert.deepEqual((await images.list({ changedSince: Date.parse('2026-01-01T00:00:00.000Z') })).images.map((i) => i.digest), [d(2), d(3), d(4)]);
    });

    it('moves the rescans of an older store after the new reconcile priority, and fills the inventory from its events, when it migrates', async function () {
      const queued = await store.queue.enqueue({ event: { receiver: 'api', eventId: 'e1', registry: R, repository: 'app', digest: d(1) }, priority: 'rescan', rulesDigest: 'r', feedsState: 'f' });
      // Events the older store received: v1 moved from d(2) to d(3); d(4) under a tag in another repository.
      for (const [id, repository, tag, n] of [['e2', 'app', 'v1', 2], ['e3', 'app', 'v1', 3], ['e4', 'other', 'latest', 4]] as const) {
        await store.queue.enqueue({ event: { receiver: 'distribution', eventId: id, registry: R, repository, tag, digest: d(n) }, priority: 'push', rulesDigest: 'r', feedsState: 'f' });
      }
      await store.close();
      // Back to the schema before images: the rescan stored as 2, as the previous imggate wrote it.
      const downgrade = ['DROP TABLE images', 'DROP TABLE service_locks', 'UPDATE jobs SET priority = 2 WHERE priority = 3'];
      if ('dir' in section) {
        const db = new Database(path.join(section.dir, 'imggate.db'));
        for (const sql of downgrade) db.exec(sql);
        db.pragma('user_version = 3');
        db.close();
      } else {
        const client = new pg.Client({ connectionString: section.database });
        await client.connect();
        for (const sql of [...downgrade, 'DELETE FROM imggate_schema WHERE version = 2']) await client.query(sql);
        await client.end();
      }
      store = await open();
      assert.equal((await store.queue.get(queued.jobId))?.priority, 'rescan');
      assert.deepEqual(await store.images.current(), [
        { registry: R, repository: 'app', digest: d(1), tags: [] },
        { registry: R, repository: 'app', digest: d(3), tags: ['v1'] },
        { registry: R, repository: 'other', digest: d(4), tags: ['latest'] },
      ]);
      await store.images.seen(R, 'app', '1', d(1), 1);
      assert.deepEqual((await store.images.current())[0]?.tags, ['1']);
    });

    it('gives a lock to one owner at a time, lets the owner extend it, and lets another take it once it expired', async function () {
      const images = store.images;
      assert.equal(await images.tryLock('reconcile', 'a', 1_000), true);
      assert.equal(await images.tryLock('reconcile', 'b', 1_000), false);
      assert.equal(await images.tryLock('other-work', 'b', 1_000), true, 'locks are by name');
      now += 900;
      assert.equal(await images.tryLock('reconcile', 'a', 1_000), true, 'the owner extends it');
      now += 900;
      assert.equal(await images.tryLock('reconcile', 'b', 1_000), false, 'extended: not expired yet');
      now += 100;
      assert.equal(await images.tryLock('reconcile', 'b', 1_000), true, 'expired: taken over');
      assert.equal(await images.tryLock('reconcile', 'a', 1_000), false);
      await images.unlock('reconcile', 'a');
      assert.equal(await images.tryLock('reconcile', 'a', 1_000), false, 'only the owner releases it');
      await images.unlock('reconcile', 'b');
      assert.equal(await images.tryLock('reconcile', 'a', 1_000), true);
    });

    it('gives a lock to exactly one of many processes asking at the same moment', async function () {
      const others = await Promise.all(Array.from({ length: 6 }, () => open()));
      try {
        for (let round = 0; round < 5; round++) {
          // Each round the previous holder's lock has expired: every asker may take it, one does.
          now += 10_000;
          const won = await Promise.all(others.map((s, i) => s.images.tryLock('reconcile', `owner-${i}`, 5_000)));
          assert.equal(won.filter(Boolean).length, 1, `round ${round}: ${won.join(',')}`);
        }
      } finally {
        await Promise.all(others.map((s) => s.close()));
      }
    });
  });
});
