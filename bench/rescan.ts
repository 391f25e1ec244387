/**
 * The rescan figure for `npm run bench`: how long `imggate serve` takes to re-check every image it
 * knows after a feed update, and what it fetched for that. BENCH_RESCAN_IMAGES images (default 1,000),
 * each its own config over one shared Debian-like layer listing `bash`, are pushed to the real registry
 * and checked once through the API; then the stand-in Debian archive publishes a security update for
 * bash, `imggate feeds update` runs, and the clock runs until every rescan has a verdict (each one a
 * fail now). Blob requests go through a counting proxy, so the table says how many layers the rescan
 * pulled (the layer cache should make it none).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { imggate } from '../test/harness/cli.js';
import { startDebianMirror } from '../test/harness/debian-mirror.js';
import { dpkgImage, pushImage } from '../test/harness/images.js';
import { startRegistry } from '../test/harness/registry.js';
import { startBlobCounter } from '../test/harness/tamper-proxy.js';
import { startServeProcess, type ServeProcess } from '../test/server/serve-process.js';
import { RegistryClient } from '../src/registry/client.js';

const IMAGES = Number(process.env['BENCH_RESCAN_IMAGES'] ?? 1000);
const API = 'bench-api-token-0123456789ab';
const BASH = '5.2.15-2+b2';

/** Polls the service's queue gauges until nothing is queued or running and `done` reaches `target`. */
async function drained(server: ServeProcess, target: number): Promise<{ done: number; failed: number }> {
  const gauge = (text: string, state: string): number => Number(new RegExp(`^imggate_queue_jobs\\{state="${state}"\\} ([0-9]+)`, 'm').exec(text)?.[1] ?? NaN);
  for (const until = Date.now() + 3_600_000; Date.now() < until; await new Promise((r) => setTimeout(r, 250))) {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const [queued, running, done, failed] = ['queued', 'running', 'done', 'failed'].map((s) => gauge(text, s)) as [number, number, number, number];
    if (queued === 0 && running === 0 && done + failed >= target) return { done, failed };
  }
  throw new Error('the queue did not drain in an hour');
}

export async function rescanBench(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-bench-rescan-'));
  const registry = await startRegistry();
  const proxy = await startBlobCounter(registry.host);
  const { blobs } = proxy;
  const now = new Date().toUTCString();
  const mirror = await startDebianMirror(
    { bookworm: [{ name: 'bash', version: BASH }], 'bookworm-updates': [], 'bookworm-security': [] },
    { bookworm: { date: now }, 'bookworm-updates': { date: now }, 'bookworm-security': { date: now } },
  );
  let server: ServeProcess | undefined;
  try {
    const config = path.join(dir, 'imggate.yaml');
    const yaml = `store:
  dir: ${path.join(dir, 'store')}
attest:
  push: false
feeds:
  autoUpdate: false
  debian:
    - mirror: ${mirror.url}
      codename: bookworm
      keyring: ${mirror.keyring}
serve:
  listen: 127.0.0.1:0
  allowRegistries: [${proxy.host}]
  concurrency: ${Math.max(1, os.cpus().length)}
  maxAttempts: 1
  rescan: { interval: 1s }
  apiTokens:
    - { name: bench, token: { value: ${API} }, scopes: [read, write] }
`;
    await writeFile(config, yaml);
    const update = async (): Promise<void> => {
      const r = await imggate(['feeds', 'update', '--config', config]);
      if (r.code !== 0) throw new Error(`feeds update: ${r.stderr}`);
    };
    await update();
    const pushStarted = Date.now();
    const refs: string[] = [];
    const layers = new Set<string>();
    // The first image alone, so its layer (every image's) is in the registry before eight pushes run at
    // once: the figure of interest is the rescan, not this; two uploads of one blob at once can fail.
    const push = async (n: number, client: RegistryClient): Promise<void> => {
      const img = await dpkgImage([{ name: 'bash', version: BASH }], String(n));
      for (const l of img.layers) layers.add(l.digest);
      await pushImage(registry.host, 'bench/fleet', `v${n}`, img, client);
      refs[n] = `${proxy.host}/bench/fleet@${img.manifestDigest}`;
    };
    await push(0, new RegistryClient(registry.host));
    let next = 1;
    const lane = async (): Promise<void> => {
      const client = new RegistryClient(registry.host);
      for (let n = next++; n < IMAGES; n = next++) await push(n, client);
    };
    await Promise.all(Array.from({ length: 8 }, lane));
    const pushSeconds = (Date.now() - pushStarted) / 1000;
    server = await startServeProcess(dir, yaml);
    const checkStarted = Date.now();
    for (const reference of refs) {
      const r = await fetch(`${server.url}/v1/checks`, { method: 'POST', headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' }, body: JSON.stringify({ reference }) });
      if (r.status !== 202) throw new Error(`POST /v1/checks: ${r.status} ${await r.text()}`);
    }
    const first = await drained(server, IMAGES);
    const checkSeconds = (Date.now() - checkStarted) / 1000;

    blobs.length = 0;
    await mirror.publish('bookworm-security', [{ name: 'bash', version: `${BASH}+deb12u1` }], { date: new Date().toUTCString() });
    const updated = Date.now();
    await update();
    const updateSeconds = (Date.now() - updated) / 1000;
    const after = await drained(server, 2 * IMAGES);
    const rescanSeconds = (Date.now() - updated) / 1000;
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const changed = Number(/^imggate_verdicts_changed_total\{verdict="fail"\} ([0-9]+)/m.exec(metrics)?.[1] ?? 0);
    const layerFetches = blobs.filter((b) => layers.has(b)).length;
    const configFetches = blobs.length - layerFetches;

    console.log('');
    console.log(`imggate serve: rescan after a feed update (SQLite store; concurrency ${Math.max(1, os.cpus().length)}; node ${process.version}; ${os.cpus().length} CPUs, shared)`);
    console.log('');
    console.log('| measure | value |');
    console.log('|---|---:|');
    console.log(`| images pushed (one shared layer, own config each), s | ${pushSeconds.toFixed(1)} |`);
    console.log(`| first checks of ${IMAGES} images through the API, s (${first.failed} failed) | ${checkSeconds.toFixed(1)} |`);
    console.log(`| feeds update (imggate feeds update), s | ${updateSeconds.toFixed(1)} |`);
    console.log(`| rescan of ${IMAGES} images: from the feed update to the last verdict, s (${after.failed - first.failed} failed) | ${rescanSeconds.toFixed(1)} |`);
    console.log(`| verdicts flipped pass → fail by the rescan | ${changed} |`);
    console.log(`| blobs fetched by the rescan: configs / layers | ${configFetches} / ${layerFetches} |`);
  } finally {
    await server?.stop();
    await mirror.stop();
    await proxy.stop();
    await registry.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  rescanBench().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
