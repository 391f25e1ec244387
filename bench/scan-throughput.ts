/**
 * Secret-scan throughput: MB/s of layer content through the engine with only the secrets analyzer,
 * against the same layers with no analyzer at all (the floor: digest, decompression, tar parsing).
 * Two images: the Debian minbase image (mostly binaries, read as latin1 like any file) and a synthetic layer
 * of 100 MiB of text files (source, configs, logs) where every byte is scanned.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { check } from '../src/index.js';
import { loadRules } from '../src/policy/load-rules.js';
import { secretsAnalyzer } from '../src/scan/analyzers/secrets/index.js';
import { SecretMatcher } from '../src/scan/analyzers/secrets/matcher.js';
import { scanBytes } from '../src/scan/analyzers/secrets/text.js';
import { decompressors, sniffCompression } from '../src/scan/decompress.js';
import { ByteReader } from '../src/scan/tar/byte-reader.js';
import { readTar } from '../src/scan/tar/reader.js';
import { debianImage } from '../test/harness/debian.js';
import { buildImage, writeOciLayout } from '../test/harness/images.js';
import type { TestEntry } from '../test/helpers/tar-writer.js';
import { textFile } from './text.js';

async function timeCheck(ref: string, withSecrets: boolean, rules: Awaited<ReturnType<typeof loadRules>>): Promise<{ ms: number; bytes: number; findings: number }> {
  const started = process.hrtime.bigint();
  // Every run reads its layers: the layer cache would answer a repeat without scanning anything.
  const report = await check(ref, { analyzers: withSecrets ? [secretsAnalyzer] : [], rules, limits: { concurrency: 1 }, noCache: true });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (report.verdict === 'error') throw new Error(report.error?.message);
  const bytes = (report.image.layers ?? []).reduce((n, l) => n + l.uncompressedSize, 0);
  return { ms, bytes, findings: report.findings.length };
}

export async function scanThroughput(parent = os.tmpdir()): Promise<void> {
  const rules = await loadRules();
  const tmp = await mkdtemp(path.join(parent, 'imggate-scanbench-'));
  try {
    const entries: TestEntry[] = [];
    for (let i = 0; i < 2000; i++) entries.push({ name: `src/pkg${i % 50}/file${i}.txt`, content: textFile(i, 50 * 1024) });
    const image = await buildImage({ user: '1000', layers: [{ entries, compression: 'gzip' }] });
    await writeOciLayout(path.join(tmp, 'text'), 'v1', image);
    const targets: Array<[string, string]> = [[`oci:${path.join(tmp, 'text')}:v1`, 'synthetic text, 100 MiB in 2000 files']];
    const debian = await debianImage();
    if (debian) targets.push([`oci:${debian.layout}:minbase`, 'Debian bookworm minbase']);
    console.log('| image | content MiB | floor (no analyzer) MiB/s | with secret scan MiB/s | secret findings |');
    console.log('|---|---:|---:|---:|---:|');
    for (const [ref, label] of targets) {
      await timeCheck(ref, true, rules); // warm-up: file cache, JIT
      const floor = await timeCheck(ref, false, rules);
      const scan = await timeCheck(ref, true, rules);
      const mib = scan.bytes / 1024 / 1024;
      console.log(`| ${label} | ${mib.toFixed(0)} | ${(mib / (floor.ms / 1000)).toFixed(0)} | ${(mib / (scan.ms / 1000)).toFixed(0)} | ${scan.findings} |`);
    }
    console.log(`(${rules.secretRules.length} content rules, ${rules.fileRules.length} file-name rules; one layer at a time; node ${process.version})`);
    if (debian) await rootfsThroughput(debian.layout, debian.layerDigests, rules);
    await matcherThroughput();
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The scanner alone over a Debian rootfs: every regular file's content, read into memory first, then
 * scanned as the secrets analyzer scans a file it holds whole (sniffed encoding, keyword search,
 * rule windows), without decompression, digests, tar parsing or archive inflation. The rows above
 * measure those too; this one is the scan's own speed.
 */
async function rootfsThroughput(layout: string, layerDigests: readonly string[], rules: Awaited<ReturnType<typeof loadRules>>): Promise<void> {
  const matcher = new SecretMatcher(rules.secretRules);
  const files: Buffer[] = [];
  for (const digest of layerDigests) {
    const blob = await readFile(path.join(layout, 'blobs', ...digest.split(':')));
    const tar = decompressors(sniffCompression(blob)).reduce<Readable>((stream, stage) => stream.pipe(stage), Readable.from([blob]));
    for await (const { header, body } of readTar(new ByteReader(tar))) {
      if (header.type === 'file' && header.size > 0) files.push(await body.read(header.size));
    }
  }
  const mib = files.reduce((n, f) => n + f.length, 0) / 1024 / 1024;
  let found = 0;
  const pass = (): number => {
    const started = process.hrtime.bigint();
    for (const f of files) scanBytes(matcher, f, () => found++);
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  pass(); // warm-up: JIT
  found = 0;
  const seconds = pass();
  console.log(`scanner alone over the Debian rootfs: ${mib.toFixed(0)} MiB in ${files.length} files in ${seconds.toFixed(2)} s = ${(mib / seconds).toFixed(0)} MiB/s (${found} matches)`);
}

/**
 * The matcher alone, on keyword-dense text (every line names token/secret/password/key…): the
 * Aho–Corasick prefilter and the windowed rule patterns, without decompression or tar parsing.
 * `node dist/bench/scan-throughput.js matcher` prints it.
 */
export async function matcherThroughput(mib = 64): Promise<number> {
  const rules = await loadRules();
  const matcher = new SecretMatcher(rules.secretRules);
  const chunks = Array.from({ length: mib }, (_, i) => textFile(i + 1, 1024 * 1024));
  for (const c of chunks.slice(0, 4)) matcher.scan(c); // warm-up: JIT
  const started = process.hrtime.bigint();
  let found = 0;
  for (const c of chunks) found += matcher.scan(c).length;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const bytes = chunks.reduce((n, c) => n + c.length, 0) / 1024 / 1024;
  console.log(`matcher: ${bytes.toFixed(0)} MiB of keyword-dense text in ${seconds.toFixed(2)} s = ${(bytes / seconds).toFixed(0)} MiB/s (${found} matches, ${rules.secretRules.length} rules)`);
  return bytes / seconds;
}

if (process.argv[1]?.endsWith('scan-throughput.js') && process.argv[2] === 'matcher') await matcherThroughput();
