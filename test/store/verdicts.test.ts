import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { historyQuery } from '../../src/cli/verdicts.js';
import { configSchema } from '../../src/config/schema.js';
import type { Report } from '../../src/report/types.js';
import { openStore } from '../../src/store/index.js';
import { imggate } from '../harness/cli.js';
import { postgresOrSkip, type TestPostgres } from '../harness/postgres.js';
import { freePort, run } from '../harness/process.js';
import { forEachBackend, type StoreSection } from './backends.js';

function report(digest: string, reference: string, verdict: Report['verdict'], checkedAt: string): Report {
  return { schema: 'imggate.report/v1', image: { reference, digest, mediaType: 'm', source: 'registry' }, verdict, findings: [], signatures: [], checkedAt, durationMs: 0 };
}

const configOf = (store: StoreSection) => configSchema.parse({ store });

describe('the verdict store', function () {
  forEachBackend((backend) => {
    it('keeps verdicts across opens and lists them newest first by digest, reference or repository', async function () {
      const section = await backend().fresh();
      const d1 = `sha256:${'1'.repeat(64)}`;
      const d2 = `sha256:${'2'.repeat(64)}`;
      const rows: Array<[string, string, Report['verdict'], string]> = [
        [d1, 'r.example/app:1', 'pass', '2026-01-01T00:00:00Z'],
        [d1, 'r.example/app:1', 'fail', '2026-01-02T00:00:00Z'],
        [d2, 'r.example/app:2', 'pass', '2026-01-03T00:00:00Z'],
      ];
      const store = await openStore(configOf(section), {});
      for (const [digest, reference, verdict, checkedAt] of rows) {
        await store.add({ digest, reference, repository: 'r.example/app', verdict, checkedAt, report: report(digest, reference, verdict, checkedAt), bundle: Buffer.from('{"b":1}') });
      }
      await store.close();
      const again = await openStore(configOf(section), {});
      try {
        assert.deepEqual((await again.list({ digest: d1 })).map((r) => r.verdict), ['fail', 'pass']);
        assert.deepEqual((await again.list({ reference: 'r.example/app:2' })).map((r) => r.digest), [d2]);
        assert.deepEqual((await again.list({ repository: 'r.example/app' })).map((r) => r.checkedAt), rows.map((r) => r[3]).reverse());
        assert.equal((await again.list({ repository: 'r.example/app', limit: 1 })).length, 1);
        const [kept] = await again.list({ digest: d2 });
        assert.equal(kept?.bundle?.toString(), '{"b":1}');
        assert.deepEqual(kept?.report, report(d2, 'r.example/app:2', 'pass', '2026-01-03T00:00:00Z'));
      } finally {
        await again.close();
      }
    });

    it('refuses a database written by a newer imggate instead of guessing its layout', async function () {
      const section = await backend().fresh();
      await (await openStore(configOf(section), {})).close();
      await backend().markNewer(section);
      await assert.rejects(openStore(configOf(section), {}), (err: Error & { code?: string }) => err.code === 'STORE_FAILED' && /newer imggate/.test(err.message));
    });

    it('is created (migrated) once when many processes open a new store at the same moment', async function () {
      this.timeout(120_000);
      const module = new URL('../../src/store/index.js', import.meta.url).href;
      const schema = new URL('../../src/config/schema.js', import.meta.url).href;
      for (let round = 0; round < 3; round++) {
        const section = await backend().fresh();
        // Every process waits for the same instant, then opens: the window of checks (or services) started together.
        const start = Date.now() + 1500;
        const script = `const { openStore } = await import(${JSON.stringify(module)}); const { configSchema } = await import(${JSON.stringify(schema)});
          const config = configSchema.parse({ store: ${JSON.stringify(section)} }); while (Date.now() < ${start}); await (await openStore(config, {})).close();`;
        const results = await Promise.all(Array.from({ length: 6 }, () => run(process.execPath, ['--input-type=module', '-e', script])));
        assert.deepEqual(results.map((r) => `${r.code} ${/\w*Error: .*/.exec(r.stderr)?.[0] ?? r.stderr.trim()}`), Array(6).fill('0 '), `round ${round}`);
        const store = await openStore(configOf(section), {});
        assert.deepEqual(await store.list({}), []);
        await store.close();
        if ('database' in section) {
          // Each version applied once: a second migration would have failed on its CREATE TABLE, or doubled its row here.
          const client = new pg.Client({ connectionString: section.database });
          await client.connect();
          const { rows } = await client.query<{ version: number }>('SELECT version FROM imggate_schema ORDER BY version');
          await client.end();
          assert.deepEqual(rows.map((r) => r.version), [1, 2]);
        }
      }
    });
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

describe('the store on PostgreSQL: what a person sees when it cannot be used', function () {
  this.timeout(120_000);
  let tmp: string;
  let server: TestPostgres | undefined;
  before(async function () {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'imggate-pg-cli-'));
  });
  after(async function () {
    await server?.destroy();
    await rm(tmp, { recursive: true, force: true });
  });

  const withDatabase = async (url: string): Promise<string> => {
    const file = path.join(tmp, `imggate-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(file, `store:\n  database: ${JSON.stringify(url)}\n`);
    return file;
  };

  it('fails history and check with an error (never a pass) naming the database without its password, when nothing listens', async function () {
    const password = 'Sup3r-s3cret-pw';
    const url = `postgres://gate:${password}@127.0.0.1:${await freePort()}/imggate`;
    const config = await withDatabase(url);
    for (const args of [['history', '--config', config, 'r.example/app'], ['check', '--config', config, '--no-attest', 'oci:/nonexistent:x']]) {
      const r = await imggate(args);
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /cannot open the store \(postgres:\/\/gate:\*\*\*@127\.0\.0\.1:\d+\/imggate\)/, args[0]);
      assert.ok(!`${r.stdout}${r.stderr}`.includes(password), `${args[0]} printed the password`);
    }
  });

  it('says the password was refused without printing it', async function () {
    server = await postgresOrSkip(this);
    const wrong = `wrong-${server.password}`;
    const r = await imggate(['history', '--config', await withDatabase(server.url().replace(`:${server.password}@`, `:${wrong}@`)), 'r.example/app']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /password authentication failed/);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(wrong));
  });

  it('refuses a store.database that is not a postgres:// URL, without echoing it', async function () {
    const r = await imggate(['history', '--config', await withDatabase('mysql://root:hunter2-hunter2@db/x'), 'r.example/app']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /store\.database: must be a postgres:\/\/ URL/);
    assert.ok(!r.stderr.includes('hunter2'));
  });
});
