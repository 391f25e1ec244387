/**
 * `imggate serve` figures for `npm run bench`: webhook acknowledgements per second, each one durably
 * committed (event + job in the store) before the 2xx, from concurrent senders — on the embedded
 * SQLite store with one process, and on PostgreSQL (a local cluster the bench starts) with three
 * processes sharing it; and the time from a push to a verdict through the real registry's
 * notifications, for a new image and for one whose layers the gate has seen before (same layers, new
 * config).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildImage, skopeoCopy, writeOciLayout, type BuiltImage } from '../test/harness/images.js';
import { postgresBinDir, startPostgres } from '../test/harness/postgres.js';
import { freePort } from '../test/harness/process.js';
import { startRegistry } from '../test/harness/registry.js';
import { startServeProcess, type ServeProcess } from '../test/server/serve-process.js';

const EVENTS = Number(process.env['BENCH_SERVE_EVENTS'] ?? 1000);
const SENDERS = Number(process.env['BENCH_SERVE_SENDERS'] ?? 16);
/** Gate processes sharing the PostgreSQL store in its acknowledgement row. */
const PG_PROCESSES = 3;
const TOKEN = 'bench-hook-token-0123456789';
const API = 'bench-api-token-0123456789ab';

function post(agent: http.Agent, url: URL, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Waits until the service has a worker process loaded and idle: the burst measures the receiver, not start-up. */
async function settled(server: ServeProcess): Promise<void> {
  for (const until = Date.now() + 120_000; Date.now() < until; await new Promise((res) => setTimeout(res, 200))) {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    if (/^imggate_worker_processes\{state="ready"\} [1-9]/m.test(text)) return;
  }
  throw new Error('no worker process became ready in 2 minutes');
}

async function verdictTime(server: ServeProcess, digest: string, since: number): Promise<number> {
  for (;;) {
    const r = await fetch(`${server.url}/v1/images/${digest}`, { headers: { authorization: `Bearer ${API}` } });
    if (r.status === 200) return (Date.now() - since) / 1000;
    await r.arrayBuffer();
    if (Date.now() - since > 600_000) throw new Error('no verdict in 10 minutes');
    await new Promise((res) => setTimeout(res, 50));
  }
}

/**
 * Acknowledgements per second: distinct digests (no dedupe), one event per request, SENDERS requests in
 * flight on kept-alive connections, taken in turn by `servers`. node:http, not fetch: undici's client
 * costs more CPU per request than the service does here, and the two share the machine.
 */
async function ackRate(servers: readonly ServeProcess[], registryHost: string): Promise<{ perSecond: number; retries: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SENDERS });
  const hooks = servers.map((s) => new URL(`${s.url}/hooks/distribution`));
  let next = 0;
  let retries = 0;
  const started = Date.now();
  const sender = async (): Promise<void> => {
    for (let i = next++; i < EVENTS; i = next++) {
      const digest = `sha256:${randomBytes(32).toString('hex')}`;
      const body = JSON.stringify({ events: [{ id: `bench-${i}`, action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'bench/acks', digest, url: `http://${registryHost}/v2/bench/acks/manifests/${digest}` } }] });
      const hook = hooks[i % hooks.length] as URL;
      const send = () => post(agent, hook, { 'content-type': 'application/vnd.docker.distribution.events.v1+json', authorization: `Bearer ${TOKEN}` }, body);
      // A reset before the answer is no acknowledgement: the sender retries, as registries do (the event id dedupes).
      const r = await send().catch(() => {
        retries++;
        return send();
      });
      if (r.status !== 202) throw new Error(`ack ${i}: ${r.status} ${r.body}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: SENDERS }, sender));
    return { perSecond: EVENTS / ((Date.now() - started) / 1000), retries };
  } finally {
    agent.destroy();
  }
}

/** A bench service's imggate.yaml: one check at a time, no retry, nothing pushed, the distribution receiver. */
function serviceConfig(o: { store: string; database?: string; listen: string; registryHost: string; api?: boolean }): string {
  return `store:
  dir: ${o.store}
${o.database ? `  database: ${o.database}\n` : ''}attest:
  push: false
serve:
  listen: ${o.listen}
  allowRegistries: [${o.registryHost}]
  concurrency: 1
  maxAttempts: 1
  receivers:
    distribution:
      type: distribution
      auth: { kind: token, token: { value: ${TOKEN} } }
${o.api ? `  apiTokens:\n    - { name: bench, token: { value: ${API} }, scopes: [read, write] }\n` : ''}`;
}

/**
 * The same burst against PG_PROCESSES services sharing a database on a PostgreSQL cluster of the
 * bench's own (test/harness/postgres.ts), with fsync on as a deployment has it. Undefined when no
 * PostgreSQL is installed.
 */
async function postgresAckRate(dir: string, registryHost: string): Promise<{ perSecond: number; retries: number; version: string } | undefined> {
  const bin = await postgresBinDir();
  if (!bin) return undefined;
  const cluster = await startPostgres(bin, { durable: true });
  const servers: ServeProcess[] = [];
  try {
    const database = new URL(await cluster.createDatabase());
    database.password = '';
    const env = { PGPASSWORD: cluster.password };
    for (let i = 0; i < PG_PROCESSES; i++) {
      const config = serviceConfig({ store: path.join(dir, `pg-${i}`), database: database.toString(), listen: '127.0.0.1:0', registryHost });
      servers.push(await startServeProcess(dir, config, env, `pg-${i}.yaml`));
    }
    for (const s of servers) await settled(s);
    return { ...(await ackRate(servers, registryHost)), version: path.basename(path.dirname(bin)) };
  } finally {
    for (const s of servers) await s.stop('SIGKILL');
    await cluster.destroy();
  }
}

export async function serveBench(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-bench-serve-'));
  const port = await freePort();
  const registryPort = await freePort();
  const registryHost = `127.0.0.1:${registryPort}`;
  const config = (store: string): string => serviceConfig({ store: path.join(dir, store), listen: `127.0.0.1:${port}`, registryHost, api: true });
  // The ack burst runs against its own service and store, stopped afterwards: its 1,000 jobs name
  // images that do not exist, and the push→verdict times must not queue behind them.
  const burst = await startServeProcess(dir, config('burst').replace(`listen: 127.0.0.1:${port}`, 'listen: 127.0.0.1:0'), {}, 'burst.yaml');
  let server: ServeProcess | undefined;
  let registry: Awaited<ReturnType<typeof startRegistry>> | undefined;
  try {
    await settled(burst);
    const acks = await ackRate([burst], registryHost);
    await burst.stop('SIGKILL');
    const pgAcks = await postgresAckRate(dir, registryHost);

    server = await startServeProcess(dir, config('store'));
    registry = await startRegistry({ kind: 'none' }, { port: registryPort, notifications: { url: `${server.url}/hooks/distribution`, token: TOKEN } });
    await settled(server);
    const push = async (img: BuiltImage, tag: string): Promise<number> => {
      const layout = await mkdtemp(path.join(dir, 'layout-'));
      await writeOciLayout(layout, 'img', img);
      await skopeoCopy(`oci:${layout}:img`, `docker://${registryHost}/bench/app:${tag}`);
      return Date.now();
    };
    const layers = [0, 1, 2].map((i) => ({ entries: [{ name: `opt/${i}.bin`, content: randomBytes(4 * 1024 * 1024) }] }));
    const first = await buildImage({ layers, extraConfig: { Healthcheck: { Test: ['CMD', 'true'] }, Labels: { build: '1' } } });
    const second = await buildImage({ layers, extraConfig: { Healthcheck: { Test: ['CMD', 'true'] }, Labels: { build: '2' } } });
    const s = server;
    const cold = await verdictTime(s, first.manifestDigest, await push(first, 'v1'));
    const warm = await verdictTime(s, second.manifestDigest, await push(second, 'v2'));

    if (process.env['BENCH_SERVE_LOG']) console.error(s.logs());
    console.log('');
    console.log(`imggate serve (SQLite store, WAL, unless said; node ${process.version}; ${os.cpus().length} CPUs, shared)`);
    console.log('');
    console.log('| measure | value |');
    console.log('|---|---:|');
    console.log(`| webhook acks/s, each committed before the 202 (${EVENTS} events, ${SENDERS} concurrent senders; ${acks.retries} resent after a reset) | ${acks.perSecond.toFixed(0)} |`);
    console.log(
      pgAcks
        ? `| webhook acks/s on PostgreSQL ${pgAcks.version} (local, fsync on), ${PG_PROCESSES} processes on one database, the senders spread over them (${EVENTS} events, ${SENDERS} concurrent senders; ${pgAcks.retries} resent after a reset) | ${pgAcks.perSecond.toFixed(0)} |`
        : `| webhook acks/s on PostgreSQL, ${PG_PROCESSES} processes | not run: no PostgreSQL server in /usr/lib/postgresql/*/bin |`,
    );
    console.log(`| push → verdict, new image (3 × 4 MiB layers), s | ${cold.toFixed(2)} |`);
    console.log(`| push → verdict, same layers seen before (new config), s | ${warm.toFixed(2)} |`);
  } finally {
    await burst.stop('SIGKILL');
    await server?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  serveBench().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
