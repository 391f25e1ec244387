/**
 * `npm run bench`: one table of whole-process figures for `imggate check` against a loopback
 * registry — the Debian minbase image and a large image, each cold (an empty store) and warm (the
 * same digest again, same store), a new tag that adds a small layer to a base the store has seen, and
 * that layer checked as an image of its own (what the new tag is held against: the warm check plus it) —
 * beside `imggate version` and the yardsticks `node -e 0` and `gzip -dc` of each image's layer blobs.
 * Then the secret scan's throughput and the service's figures, each in a table of its own.
 *
 * BENCH_REPEAT runs of each row (default 3; the start-up rows three times as many), BENCH_BIG_REPEAT
 * of the large image's (default 1), BENCH_BIG_MIB MiB of content added to the Debian base in the large
 * image (default 700: about 1 GB in all), BENCH_PARTS which parts run (default checks,scan,serve,rescan).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Report } from '../src/report/types.js';
import { CACHE_DIR } from '../test/harness/debian.js';
import { skopeoCopy } from '../test/harness/images.js';
import { startRegistry } from '../test/harness/registry.js';
import { rulesWithoutFeeds } from '../test/harness/rules.js';
import { bigBenchImage, debianBenchImage, pushNewTag, type LayerBlob } from './images.js';
import { measure, Samples, type Command } from './measure.js';
import { scanThroughput } from './scan-throughput.js';
import { rescanBench } from './rescan.js';
import { serveBench } from './serve.js';

function count(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, not "${text}"`);
  return n;
}

const REPEAT = count('BENCH_REPEAT', 3);
const BIG_REPEAT = count('BENCH_BIG_REPEAT', 1);
const BIG_MIB = count('BENCH_BIG_MIB', 700);
const PARTS = new Set((process.env['BENCH_PARTS'] ?? 'checks,scan,serve,rescan').split(','));
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/imggate.js');
const MiB = 1024 * 1024;

/** Removals that an interrupted bench still makes: the registry's storage (a GB), the stores, the copied rules. */
const cleanups = new Set<() => Promise<unknown>>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void Promise.allSettled([...cleanups].map((f) => f())).finally(() => process.exit(130)));
}

async function cleaningUp<T>(cleanup: () => Promise<unknown>, body: () => Promise<T>): Promise<T> {
  cleanups.add(cleanup);
  try {
    return await body();
  } finally {
    cleanups.delete(cleanup);
    await cleanup();
  }
}

/** Decompression of an image's layer blobs, one after another: the least any reader of them does. */
function decompress(layers: readonly LayerBlob[]): Command {
  const one = (l: LayerBlob): string => `${l.mediaType.endsWith('+zstd') ? 'zstd -q' : 'gzip'} -dc '${l.file}' >/dev/null`;
  return { argv: ['sh', '-c', layers.map(one).join(' && ')] };
}

interface Measured {
  readonly samples: Samples;
  /** The first report of each check row: sizes and findings for the legend. */
  readonly reports: ReadonlyMap<string, Report>;
  readonly layers: { readonly debian: readonly LayerBlob[]; readonly big: readonly LayerBlob[]; readonly newTag: readonly LayerBlob[] };
}

async function measureChecks(work: string): Promise<Measured> {
  const debian = await debianBenchImage();
  if (!debian) throw new Error('the bench needs the debootstrap Debian image: run as root with debootstrap installed');
  const big = await bigBenchImage(debian, BIG_MIB);
  const rules = await rulesWithoutFeeds();
  const config = path.join(work, 'imggate.yaml');
  // The layer cache is on by default; said here too, so the rows mean the same on any version. A cold row has it, empty.
  await writeFile(config, 'store:\n  scanCache: true\n');
  // The registry's storage goes beside the image cache: with the large image it is a GB.
  const registry = await startRegistry({ kind: 'none' }, { parent: path.dirname(CACHE_DIR) });
  const cleanup = async (): Promise<void> => {
    await registry.stop();
    await rm(rules, { recursive: true, force: true });
  };
  return cleaningUp(cleanup, async () => {
    const debianRef = `${registry.host}/bench/debian:minbase`;
    const bigRef = `${registry.host}/bench/big:v1`;
    await skopeoCopy(`oci:${debian.layout}:minbase`, `docker://${debianRef}`);
    await skopeoCopy(`oci:${big.layout}:big`, `docker://${bigRef}`);
    const newTag = await pushNewTag(registry.host, 'bench/debian', 'app-v2', debian, work);

    const samples = new Samples();
    const reports = new Map<string, Report>();
    let homes = 0;
    const freshStore = (): Promise<string> => mkdtemp(path.join(work, `data-${homes++}-`));
    const check = async (label: string, ref: string, home: string): Promise<void> => {
      const output = path.join(home, 'report.json');
      const env = { ...process.env, XDG_DATA_HOME: home, XDG_CONFIG_HOME: '/nonexistent', IMGGATE_CONFIG: '', DOCKER_CONFIG: '/nonexistent' };
      // No feed is fetched (--offline, and a policy that does not block on a missing feed): the rows
      // time the image, not a mirror. Exit 1 is a policy failure, as for a Debian image running as root.
      const argv = [process.execPath, BIN, 'check', '--config', config, '--rules', rules, '--offline', '--no-attest', '--quiet', '--format', 'json', '--output', output, ref];
      samples.add(label, await measure({ argv, env, ok: [0, 1] }, work));
      const report = JSON.parse(await readFile(output, 'utf8')) as Report;
      if (report.verdict === 'error') throw new Error(`${label}: the check did not conclude: ${JSON.stringify(report.error)}`);
      if (!reports.has(label)) reports.set(label, report);
    };
    const time = async (label: string, command: Command, times = 1): Promise<void> => {
      for (let i = 0; i < times; i++) samples.add(label, await measure(command, work));
    };

    // Rows interleave, so that a slow minute of a shared machine spreads over all of them.
    for (let i = 0; i < REPEAT; i++) {
      process.stderr.write(`bench: Debian and new tag, round ${i + 1} of ${REPEAT}\n`);
      await time('node', { argv: [process.execPath, '-e', '0'] }, 3);
      await time('version', { argv: [process.execPath, BIN, 'version'] }, 3);
      await time('gzip debian', decompress(debian.layers));
      await time('gzip new tag', decompress(newTag.layers));
      const home = await freshStore();
      await check('cold debian', debianRef, home);
      await check('warm debian', debianRef, home);
      await check('new tag', newTag.reference, home);
      await check('layer alone', newTag.alone, await freshStore());
    }
    for (let i = 0; i < BIG_REPEAT; i++) {
      process.stderr.write(`bench: large image, round ${i + 1} of ${BIG_REPEAT}\n`);
      await time('gzip big', decompress(big.layers));
      const home = await freshStore();
      await check('cold big', bigRef, home);
      await check('warm big', bigRef, home);
    }
    return { samples, reports, layers: { debian: debian.layers, big: big.layers, newTag: newTag.layers } };
  });
}

function printTable({ samples, reports, layers }: Measured): void {
  const content = (label: string): number => (reports.get(label)?.image.layers ?? []).reduce((n, l) => n + l.uncompressedSize, 0) / MiB;
  const describe = (label: string, blobs: readonly LayerBlob[]): string =>
    `${blobs.length} layers, ${(blobs.reduce((n, l) => n + l.size, 0) / MiB).toFixed(0)} MiB compressed, ${content(label).toFixed(0)} MiB of content, ${reports.get(label)?.findings.length ?? '?'} findings`;
  console.log(`imggate check from a loopback registry (node ${process.version}, ${os.cpus().length} CPUs, shared): the median of each row's runs`);
  console.log('check: --no-attest --offline, the bundled rules with feed.block false (no package feed is fetched), the layer cache on (store.scanCache); each cold run has a new, empty store (XDG_DATA_HOME)');
  console.log(`Debian: bookworm minbase (test/harness/debian.ts), ${describe('cold debian', layers.debian)}`);
  console.log(`large: the Debian base layer + ${BIG_MIB} MiB (BENCH_BIG_MIB) of random files and of keyword-dense text files, ${describe('cold big', layers.big)}`);
  console.log(`new tag: the Debian base layer + 1 layer of 3 small files, ${describe('new tag', layers.newTag)}`);
  console.log('');
  const rows: Array<[string, string, string, string | undefined]> = [
    ['cold check, empty store', 'Debian', 'cold debian', 'gzip debian'],
    ['warm check: same digest, same store', 'Debian', 'warm debian', 'gzip debian'],
    ['new tag: base + 1 small layer, the store knows the base', 'new tag', 'new tag', 'gzip new tag'],
    ['cold check of the new layer alone (an image of just it), empty store', 'new layer', 'layer alone', undefined],
    ['cold check, empty store', 'large', 'cold big', 'gzip big'],
    ['warm check: same digest, same store', 'large', 'warm big', 'gzip big'],
    ['imggate version', '', 'version', undefined],
    ['gzip -dc of the layer blobs (zstd -dc of a zstd one)', 'Debian', 'gzip debian', 'gzip debian'],
    ['gzip -dc of the layer blobs', 'new tag', 'gzip new tag', 'gzip new tag'],
    ['gzip -dc of the layer blobs', 'large', 'gzip big', 'gzip big'],
    ['node -e 0', '', 'node', undefined],
  ];
  const node = samples.median('node');
  console.log('| run | image | wall s | peak RSS MiB | ÷ gzip -dc | ÷ node -e 0 | CPU s | runs |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const [what, image, label, yardstick] of rows) {
    const s = samples.median(label);
    const gzip = yardstick ? (s.seconds / samples.median(yardstick).seconds).toFixed(2) : '';
    console.log(`| ${what} | ${image} | ${s.seconds.toFixed(2)} | ${s.rssMiB.toFixed(0)} | ${gzip} | ${(s.seconds / node.seconds).toFixed(1)} | ${s.cpuSeconds.toFixed(2)} | ${s.runs} |`);
  }
  // A check's CPU time spread over every core is the shortest wall it could have on this machine.
  const cores = os.availableParallelism();
  const floor = (label: string, yardstick: string): string => {
    const s = samples.median(label);
    return `${(s.cpuSeconds / cores).toFixed(2)} s = ${(s.cpuSeconds / cores / samples.median(yardstick).seconds).toFixed(2)} × gzip -dc`;
  };
  console.log('');
  console.log(`Cold checks' CPU time over the ${cores} cores (their shortest wall here, with every core busy all the time): Debian ${floor('cold debian', 'gzip debian')}; large ${floor('cold big', 'gzip big')}`);
  const [newTag, warm, alone] = ['new tag', 'warm debian', 'layer alone'].map((label) => samples.median(label).seconds) as [number, number, number];
  console.log(`New tag against the warm check plus its new layer checked alone: ${newTag.toFixed(2)} s against ${warm.toFixed(2)} + ${alone.toFixed(2)} = ${(warm + alone).toFixed(2)} s`);
  const rate = (image: string, label: string): string => (content(image) / samples.median(label).seconds).toFixed(0);
  console.log('');
  console.log(
    `MiB of layer content per second: cold check ${rate('cold debian', 'cold debian')} (Debian), ${rate('cold big', 'cold big')} (large); ` +
      `gzip -dc ${rate('cold debian', 'gzip debian')} (Debian), ${rate('cold big', 'gzip big')} (large)`,
  );
  console.log('');
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'imggate-bench-'));
  await cleaningUp(
    () => rm(work, { recursive: true, force: true }),
    async () => {
      if (PARTS.has('checks')) printTable(await measureChecks(work));
      if (PARTS.has('scan')) await scanThroughput(work);
      if (PARTS.has('serve')) await serveBench();
      if (PARTS.has('rescan')) await rescanBench();
    },
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
