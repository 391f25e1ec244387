/**
 * `npm run bench`: time and peak RSS of `imggate check` on a real multi-layer Debian image in a
 * loopback registry, beside `skopeo copy` of the same image and plain decompression of its layers.
 * Each command runs REPEAT times under GNU time; the median is printed, with ratios to imggate.
 */
import { mkdtempSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { debianImage } from '../test/harness/debian.js';
import { skopeoCopy } from '../test/harness/images.js';
import { run } from '../test/harness/process.js';
import { startRegistry } from '../test/harness/registry.js';
import { scanThroughput } from './scan-throughput.js';
import { serveBench } from './serve.js';

const REPEAT = Number(process.env['BENCH_REPEAT'] ?? 3);
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/imggate.js');

interface Sample {
  seconds: number;
  rssMiB: number;
}

/** The verdict store the measured checks write to: a throwaway one, never the user's. */
const BENCH_DATA_HOME = mkdtempSync(path.join(os.tmpdir(), 'imggate-bench-data-'));

async function measure(label: string, argv: string[]): Promise<Sample> {
  const samples: Sample[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const r = await run('/usr/bin/time', ['-f', '%e %M', ...argv], { env: { ...process.env, XDG_DATA_HOME: BENCH_DATA_HOME } });
    const last = r.stderr.trim().split('\n').pop() ?? '';
    const [seconds, kib] = last.split(' ').map(Number);
    if (r.code !== 0 && !(label.startsWith('imggate') && r.code === 1)) throw new Error(`${label} exited ${r.code}: ${r.stderr.slice(-500)}`);
    samples.push({ seconds: seconds ?? NaN, rssMiB: (kib ?? NaN) / 1024 });
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  return { seconds: median(samples.map((s) => s.seconds)), rssMiB: median(samples.map((s) => s.rssMiB)) };
}

async function main(): Promise<void> {
  const image = await debianImage();
  if (!image) throw new Error('the bench needs a debootstrap Debian image: run as root with debootstrap installed');
  const registry = await startRegistry();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'imggate-bench-'));
  try {
    const ref = `${registry.host}/bench/debian:minbase`;
    await skopeoCopy(`oci:${image.layout}:minbase`, `docker://${ref}`);
    const index = JSON.parse(await readFile(path.join(image.layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(await readFile(path.join(image.layout, 'blobs/sha256', (index.manifests[0]?.digest ?? '').slice(7)), 'utf8')) as {
      layers: Array<{ digest: string; size: number; mediaType: string }>;
    };
    const blob = (d: string): string => path.join(image.layout, 'blobs/sha256', d.slice(7));
    const decompress = manifest.layers.map((l) => `${l.mediaType.endsWith('zstd') ? 'zstd -q' : 'gzip'} -dc ${blob(l.digest)} > /dev/null`).join(' && ');
    const compressed = manifest.layers.reduce((n, l) => n + l.size, 0);

    const rows: Array<[string, Sample]> = [];
    rows.push(['imggate check (registry)', await measure('imggate', [process.execPath, BIN, 'check', '--no-attest', '--format', 'json', '--output', '/dev/null', '--quiet', ref])]);
    rows.push(['imggate check (oci: layout)', await measure('imggate', [process.execPath, BIN, 'check', '--no-attest', '--quiet', `oci:${image.layout}:minbase`])]);
    let n = 0;
    rows.push([
      'skopeo copy registry → oci dir',
      await measure('skopeo', ['sh', '-c', `skopeo copy --quiet --src-tls-verify=false --insecure-policy docker://${ref} oci:${tmp}/copy-$$-${n++}:x && rm -rf ${tmp}/copy-*`]),
    ]);
    rows.push(['gzip -dc / zstd -dc of the layers', await measure('decompress', ['sh', '-c', decompress])]);

    const base = rows[0]?.[1] as Sample;
    console.log(`image: ${manifest.layers.length} layers, ${(compressed / 1024 / 1024).toFixed(1)} MiB compressed (Debian bookworm minbase); median of ${REPEAT} runs; node ${process.version}`);
    console.log('');
    console.log('| command | wall s | peak RSS MiB | wall ÷ imggate | RSS ÷ imggate |');
    console.log('|---|---:|---:|---:|---:|');
    for (const [label, s] of rows) {
      console.log(`| ${label} | ${s.seconds.toFixed(2)} | ${s.rssMiB.toFixed(0)} | ${(s.seconds / base.seconds).toFixed(2)} | ${(s.rssMiB / base.rssMiB).toFixed(2)} |`);
    }
    console.log('');
    console.log(`imggate throughput: ${(compressed / 1024 / 1024 / base.seconds).toFixed(1)} MiB/s of compressed layers from the registry`);
    console.log('');
    await scanThroughput();
    await serveBench();
  } finally {
    await registry.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
