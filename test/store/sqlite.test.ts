import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Report } from '../../src/report/types.js';
import { historyQuery } from '../../src/cli/verdicts.js';
import { run } from '../harness/process.js';

function report(digest: string, reference: string, verdict: Report['verdict'], checkedAt: string): Report {
  return { schema: 'imggate.report/v1', image: { reference, digest, mediaType: 'm', source: 'registry' }, verdict, findings: [], signatures: [], checkedAt, durationMs: 0 };
}

describe('the embedded verdict store', function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-store-'));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps verdicts across opens and lists them newest first by digest, reference or repository', function () {
    const file = path.join(dir, 'a', 'imggate.db');
    const d1 = `sha256:${'1'.repeat(64)}`;
    const d2 = `sha256:${'2'.repeat(64)}`;
    const rows: Array<[string, string, Report['verdict'], string]> = [
      [d1, 'r.example/app:1', 'pass', '2026-01-01T00:00:00Z'],
      [d1, 'r.example/app:1', 'fail', '2026-01-02T00:00:00Z'],
      [d2, 'r.example/app:2', 'pass', '2026-01-03T00:00:00Z'],
    ];
    const store = new SqliteStore(file);
    for (const [digest, reference, verdict, checkedAt] of rows) {
      store.add({ digest, reference, repository: 'r.example/app', verdict, checkedAt, report: report(digest, reference, verdict, checkedAt), bundle: Buffer.from('{"b":1}') });
    }
    store.close();
    const again = new SqliteStore(file);
    assert.deepEqual(again.list({ digest: d1 }).map((r) => r.verdict), ['fail', 'pass']);
    assert.deepEqual(again.list({ reference: 'r.example/app:2' }).map((r) => r.digest), [d2]);
    assert.deepEqual(again.list({ repository: 'r.example/app' }).map((r) => r.checkedAt), rows.map((r) => r[3]).reverse());
    assert.equal(again.list({ repository: 'r.example/app', limit: 1 }).length, 1);
    assert.equal(again.list({ digest: d2 })[0]?.bundle?.toString(), '{"b":1}');
    again.close();
  });

  it('refuses a database written by a newer imggate instead of guessing its layout', function () {
    const file = path.join(dir, 'newer.db');
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    assert.throws(() => new SqliteStore(file), (err: Error & { code?: string }) => err.code === 'STORE_FAILED' && /newer imggate/.test(err.message));
  });

  it('is created once when many processes open a new store at the same moment (checks started together)', async function () {
    this.timeout(120_000);
    const module = new URL('../../src/store/sqlite.js', import.meta.url).href;
    for (let round = 0; round < 3; round++) {
      const file = path.join(dir, `together-${round}`, 'imggate.db');
      // Every process waits for the same instant, then opens: the window a check's store open has.
      const start = Date.now() + 1500;
      const script = `const { SqliteStore } = await import(${JSON.stringify(module)}); while (Date.now() < ${start}); new SqliteStore(${JSON.stringify(file)}).close();`;
      const results = await Promise.all(Array.from({ length: 6 }, () => run(process.execPath, ['--input-type=module', '-e', script])));
      assert.deepEqual(results.map((r) => `${r.code} ${/\w*Error: .*/.exec(r.stderr)?.[0] ?? r.stderr.trim()}`), Array(6).fill('0 '), `round ${round}`);
      const store = new SqliteStore(file);
      assert.deepEqual(store.list({}), []);
      store.close();
    }
  });

  it('reads history arguments as digest, tag or repository', function () {
    const digest = `sha256:${'f'.repeat(64)}`;
    assert.deepEqual(historyQuery(digest), { digest });
    assert.deepEqual(historyQuery(`r.example/app:1@${digest}`), { digest });
    assert.deepEqual(historyQuery('r.example/app:1'), { reference: 'r.example/app:1' });
    assert.deepEqual(historyQuery('r.example/app'), { repository: 'r.example/app' });
    assert.deepEqual(historyQuery('alpine'), { repository: 'docker.io/library/alpine' });
    assert.deepEqual(historyQuery('oci:build/layout:app'), { reference: 'oci:build/layout:app' });
  });
});
