import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { RegistryClient } from '../../src/registry/client.js';
import { imggate } from '../harness/cli.js';
import { buildImage, pushImage, type BuiltImage } from '../harness/images.js';
import { postgresOrSkip, type TestPostgres } from '../harness/postgres.js';
import { freePort } from '../harness/process.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { eventually, startServeProcess, type ServeProcess } from '../server/serve-process.js';

const HOOK_TOKEN = 'hook-token-0123456789abcdef';
const READ_TOKEN = 'api-read-token-0123456789ab';
const PASSWORD = 'scale-out test key password';
const IMAGES = 50;

/**
 * One gate process's configuration: all three share the database, the key and the rules; each has its
 * own port and its own local store directory (feeds snapshots), as on separate machines. The lease is
 * short so a killed process's jobs come back within seconds.
 */
function config(dir: string, name: string, port: number, database: string, registry: string): string {
  return `store:
  dir: ${path.join(dir, `store-${name}`)}
  database: ${database}
attest:
  key: ${path.join(dir, 'gate.key')}
  push: false
serve:
  listen: 127.0.0.1:${port}
  allowRegistries: [${registry}]
  concurrency: 2
  lease: 2s
  backoff: 1s
  backoffMax: 4s
  maxAttempts: 10
  checkTimeout: 120s
  drainTimeout: 2s
  receivers:
    distribution:
      type: distribution
      auth: { kind: token, token: { value: ${HOOK_TOKEN} } }
  apiTokens:
    - { name: dashboard, token: { value: ${READ_TOKEN} }, scopes: [read] }
`;
}

interface JobRow {
  id: number;
  digest: string;
  state: string;
  verdict: string | null;
  attempts: number;
  last_error: string | null;
}

async function metric(server: ServeProcess, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = pattern.exec(line);
    if (m) sum += Number(m[1]);
  }
  return sum;
}

describe('imggate serve: three processes on one PostgreSQL, one killed, the database restarted @integration', function () {
  let dir: string;
  let postgres: TestPostgres;
  let registry: TestRegistry;
  let db: pg.Pool;
  const servers: ServeProcess[] = [];

  before(async function () {
    postgres = await postgresOrSkip(this);
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-scale-out-'));
    const gen = await imggate(['keys', 'generate', '--output-key-prefix', path.join(dir, 'gate')], { env: { IMGGATE_KEY_PASSWORD: PASSWORD } });
    assert.equal(gen.code, 0, gen.stderr);
    const url = new URL(await postgres.createDatabase());
    // The password stays out of the configuration files: libpq's PGPASSWORD, as a deployment would.
    url.password = '';
    const env = { IMGGATE_KEY_PASSWORD: PASSWORD, PGPASSWORD: postgres.password };
    const registryPort = await freePort();
    const registryHost = `127.0.0.1:${registryPort}`;
    // Started together on the empty database: one migrates under the advisory lock, the others wait and
    // find the schema current.
    const ports = [await freePort(), await freePort(), await freePort()];
    const names = ['notified', 'killed', 'survivor'];
    const started = await Promise.allSettled(names.map((name, i) => startServeProcess(dir, config(dir, name, ports[i] as number, url.toString(), registryHost), env, `${name}.yaml`)));
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    registry = await startRegistry({ kind: 'none' }, { port: registryPort, notifications: { url: `${servers[0]!.url}/hooks/distribution`, token: HOOK_TOKEN } });
    db = new pg.Pool({ connectionString: postgres.url(url.pathname.slice(1)), max: 2 });
    // The test's own idle connections are dropped by the restart too.
    db.on('error', () => undefined);
  });
  afterEach(function () {
    // What the processes said, when the test failed: the log is the only account of who did what.
    if (this.currentTest?.state === 'failed') for (const s of servers) console.error(s.logs().slice(-10_000));
  });
  after(async function () {
    for (const s of servers) await s.stop('SIGKILL');
    await db?.end();
    await registry?.stop();
    await postgres?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`checks ${IMAGES} pushed images exactly once each, through a kill -9 of a process and a restart of PostgreSQL`, async function () {
    const [notified, killed, survivor] = servers as [ServeProcess, ServeProcess, ServeProcess];
    const images: BuiltImage[] = [];
    // The images pushed while waiting for the second process to hold a lease carry 16 MiB of zeros
    // (16 KiB compressed, nothing to find): a check of a few small files ends in some 40 ms, too soon
    // for a poll to see it running, and the wait could outlast every push.
    const ballast = Buffer.alloc(16 * 1024 * 1024);
    /** Images pushed before the kill at most: the wait for the second process's lease draws on these. */
    const PROBES = 30;
    for (let i = 0; i < IMAGES; i++) {
      const entries = [{ name: 'etc/', type: 'dir' as const }, { name: `etc/scale-${i}`, content: `image ${i}` }, ...(i < PROBES ? [{ name: 'var/ballast', content: ballast }] : [])];
      images.push(await buildImage({ layers: [{ entries }], extraConfig: { Healthcheck: { Test: ['CMD', 'true'] } } }));
    }
    const client = new RegistryClient(registry.host);
    let victimJobs: number[] = [];
    // Four pushes at a time, as several CI jobs would.
    const push = async (from: number, to: number): Promise<void> => {
      let next = from;
      const pusher = async (): Promise<void> => {
        for (let i = next++; i < to; i = next++) await pushImage(registry.host, `scale/app${i % 5}`, `v${i}`, images[i] as BuiltImage, client);
      };
      await Promise.all(Array.from({ length: 4 }, pusher));
    };
    try {
      // Pushed four at a time until the process to kill holds a lease: its job has to come back through
      // expiry and be redone by another process. The notified process claims a job the moment it queues
      // it; the others find jobs only when it already runs as many as it may (serve.concurrency 2).
      const pid = killed.child.pid as number;
      let pushed = 0;
      victimJobs = await eventually(
        'the second process to run a job',
        async () => {
          const { rows } = await db.query<{ id: number }>(`SELECT id::int AS id FROM jobs WHERE state = 'running' AND lease_owner LIKE $1`, [`%:${pid}:%`]);
          if (rows.length) return rows.map((r) => r.id);
          if (pushed < PROBES) {
            await push(pushed, Math.min(PROBES, pushed + 4));
            pushed = Math.min(PROBES, pushed + 4);
          }
          return undefined;
        },
        180_000,
      );
      killed.child.kill('SIGKILL');
      await killed.exited();
      // A job it finished just before the kill is not one it left behind.
      victimJobs = (await db.query<{ id: number }>(`SELECT id::int AS id FROM jobs WHERE id = ANY($1) AND state <> 'done'`, [victimJobs])).rows.map((r) => r.id);
      await push(pushed, PROBES);

      // PostgreSQL goes away with checks running and pushes arriving: the notified process answers the
      // registry's deliveries with 503 until it is back, and the registry delivers them again.
      const refusedBefore = await metric(notified, /^imggate_requests_total\{receiver="distribution",status="503"\} (\d+)/);
      await postgres.stop();
      await push(PROBES, PROBES + 5);
      await eventually('a delivery refused while the database is down', async () => ((await metric(notified, /^imggate_requests_total\{receiver="distribution",status="503"\} (\d+)/)) > refusedBefore ? true : undefined));
      await postgres.start();
      await push(PROBES + 5, IMAGES);
    } finally {
      client.close();
    }

    const jobs = await eventually(
      `${IMAGES} jobs to end`,
      async () => {
        const { rows } = await db.query<JobRow>('SELECT id::int AS id, digest, state, verdict, attempts, last_error FROM jobs ORDER BY id');
        return rows.length >= IMAGES && rows.every((r) => r.state === 'done' || r.state === 'failed') ? rows : undefined;
      },
      240_000,
    );
    const logs = servers.map((s) => s.logs()).join('\n');
    // Every image has one job, ended with its verdict; no job gave up, whatever the restart did to its attempts.
    assert.deepEqual(jobs.map((j) => j.digest).sort(), images.map((i) => i.manifestDigest).sort());
    const unfinished = jobs.filter((j) => j.state !== 'done' || j.verdict !== 'pass');
    assert.deepEqual(unfinished, [], logs.slice(-20_000));
    // Exactly one verdict row per digest, and it is the row of that digest's job.
    const { rows: verdicts } = await db.query<{ digest: string; rows: number; jobs: number[] }>(
      'SELECT digest, count(*)::int AS rows, array_agg(job_id::int) AS jobs FROM verdicts GROUP BY digest ORDER BY digest',
    );
    assert.equal(verdicts.length, IMAGES);
    const jobOf = new Map(jobs.map((j) => [j.digest, j.id]));
    for (const v of verdicts) assert.deepEqual([v.rows, v.jobs], [1, [jobOf.get(v.digest)]], v.digest);
    // The killed process's jobs were taken over: their first attempt counted, a later one succeeded.
    const taken = jobs.filter((j) => victimJobs.includes(j.id));
    assert.ok(taken.length > 0, 'the killed process left a job behind');
    for (const j of taken) assert.ok(j.attempts >= 2, `job ${j.id} was redone after the kill (attempts ${j.attempts})`);
    const expiries = (await metric(notified, /^imggate_lease_expiries_total (\d+)/)) + (await metric(survivor, /^imggate_lease_expiries_total (\d+)/));
    assert.ok(expiries >= taken.length, `${expiries} lease expiries`);
    // The survivors lived through the restart, and the notified one answered ready again.
    for (const s of [notified, survivor]) assert.equal(s.child.exitCode, null, s.logs().slice(-5_000));
    assert.deepEqual(await (await fetch(`${notified.url}/readyz`)).json(), { store: true, workers: true });
    // The process the registry does not talk to took its share of the queue.
    assert.match(survivor.logs(), /"msg":"check done"/);
  });
});
