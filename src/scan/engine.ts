import { Readable, pipeline, type Transform } from 'node:stream';
import { ImggateError, asImggateError, isImggateError } from '../errors.js';
import { DigestVerifier } from '../oci/digest.js';
import type { Descriptor, ImageConfig } from '../oci/schemas.js';
import type { Inventory } from '../packages/types.js';
import type { Finding } from '../report/types.js';
import type { Analyzer, AnalyzerContext, EntryInfo, FindingSink, ImageView, LayerMeta, LayerRun, RawFinding } from './analyzer.js';
import { imageCacheKey, layerCacheKey, type LayerCache, type LayerRecord } from './layer-cache.js';
import { ByteLimit, decompressors, sniffCompression } from './decompress.js';
import { buildViews, type LayerChanges } from './filesystem.js';
import { isRootedName, normalizeEntryPath, whiteoutOf } from './paths.js';
import { ByteReader } from './tar/byte-reader.js';
import { readTar } from './tar/reader.js';

export interface ScanLimits {
  /** Decompressed bytes one layer may expand to. */
  readonly maxUncompressedLayerBytes: number;
  /** Decompressed bytes all layers together may expand to. */
  readonly maxUncompressedTotalBytes: number;
  /** Bytes of one file's content handed to analyzers at most. */
  readonly maxFileBytes: number;
  /** Layers streamed at the same time. */
  readonly concurrency: number;
  /** Entries one directory may hold over all layers (config `limits.maxDirectoryEntries`). */
  readonly maxDirectoryEntries: number;
  /** Components one entry's path or link target may have (config `limits.maxPathDepth`). */
  readonly maxPathDepth: number;
  /** Entries over all layers (config `limits.maxEntries`): what the views built at the end hold. */
  readonly maxEntries: number;
}

export interface LayerInput {
  readonly index: number;
  readonly descriptor: Descriptor;
  readonly diffId: string | undefined;
  readonly createdBy: string | undefined;
  /** Opens the compressed blob as a stream that fails unless it matches the descriptor. */
  open(): Promise<Readable>;
}

export interface LayerStats {
  readonly index: number;
  readonly uncompressedSize: number;
  readonly entries: number;
}

export interface ScanProgress {
  layerStarted?(layer: LayerInput): void;
  layerDone?(layer: LayerInput, stats: LayerStats): void;
  /** A layer whose facts the layer cache had: it was not fetched. */
  layerKnown?(layer: LayerInput, stats: LayerStats): void;
}

export interface ScanResult {
  readonly findings: Finding[];
  readonly inventory: Inventory | undefined;
  readonly layers: readonly LayerStats[];
  /** How many layers came from the layer cache instead of being read. */
  readonly cachedLayers: number;
  /** The conclusions came from the cache whole: the image was checked before, with the same analyzers and rules. */
  readonly cachedImage: boolean;
}

interface PlacedRun {
  readonly analyzer: Analyzer;
  readonly run: LayerRun;
  failed: boolean;
}

/**
 * The layer engine: each layer streams once — blob digest → decompression → diffID digest → tar
 * entries → the analyzers that asked for each entry — with nothing written to disk and memory bounded
 * by the per-file cap. What a layer holds (its entries, its findings, each analyzer's facts) is a
 * `LayerRecord`, kept in the layer cache by diffID when one is given, so a layer seen before is not
 * fetched again. Layer changes are applied in order at the end and each analyzer concludes from the
 * records of all layers, so findings can say whether what a layer carries is still in the final
 * filesystem.
 */
export async function scanLayers(
  layers: readonly LayerInput[],
  config: ImageConfig,
  analyzers: readonly Analyzer[],
  context: AnalyzerContext,
  limits: ScanLimits,
  options: {
    signal?: AbortSignal | undefined;
    progress?: ScanProgress | undefined;
    cache?: LayerCache | undefined;
    /** The config's digest: with it, what is concluded is cached for the image as a whole too. */
    configDigest?: string | undefined;
  } = {},
): Promise<ScanResult> {
  const runContext: AnalyzerContext = options.signal ? { ...context, signal: options.signal } : context;
  const budget = { total: 0, entries: 0 };
  const records: LayerRecord[] = new Array(layers.length);
  const keyOf = (layer: LayerInput): string | undefined => (options.cache && layer.diffId ? layerCacheKey(layer.diffId, analyzers, context, limits) : undefined);
  const layerKeys = layers.map(keyOf);
  const imageKey =
    options.cache && options.configDigest && layerKeys.every((k) => k !== undefined)
      ? imageCacheKey(options.configDigest, layers.map((l, i) => ({ digest: l.descriptor.digest, createdBy: l.createdBy, key: layerKeys[i] as string })), limits)
      : undefined;
  if (imageKey) {
    options.signal?.throwIfAborted();
    const known = await options.cache?.getImage(imageKey, layers.length);
    if (known) {
      for (const layer of layers) options.progress?.layerKnown?.(layer, known.layers[layer.index] as LayerStats);
      return { findings: [...known.findings], inventory: known.inventory, layers: known.layers, cachedLayers: layers.length, cachedImage: true };
    }
  }
  let cachedLayers = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < layers.length) {
      const layer = layers[next++] as LayerInput;
      options.signal?.throwIfAborted();
      const key = layerKeys[layer.index];
      const known = key ? await options.cache?.get(key, layer.index) : undefined;
      if (known) {
        cachedLayers++;
        spend(budget, known.stats.uncompressedSize, known.stats.entries, limits);
        records[layer.index] = known;
        options.progress?.layerKnown?.(layer, known.stats);
        continue;
      }
      options.progress?.layerStarted?.(layer);
      const record = await scanLayer(layer, analyzers, runContext, limits, budget, options.signal);
      records[layer.index] = record;
      // A failure may not be the layer's doing: it is not remembered.
      if (key && record.failed.length === 0) await options.cache?.put(key, layer.diffId as string, record);
      options.progress?.layerDone?.(layer, record.stats);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limits.concurrency, layers.length)) }, worker));

  // Both snapshotters' views: the gate fails an image unless each is safe.
  const built = buildViews(
    records.map((r) => r.changes),
    limits,
  );
  const views: ImageView['views'] = [
    { name: 'overlay', fs: built.overlay },
    { name: 'native', fs: built.native },
  ];
  const fs = built.overlay;

  const readFiles = async (entries: readonly EntryInfo[], maxBytes: number): Promise<Map<EntryInfo, Buffer>> => {
    const out = new Map<EntryInfo, Buffer>();
    for (const layer of layers) {
      const wanted = entries.filter((e) => e.layerIndex === layer.index);
      if (wanted.length) for (const [entry, content] of await readEntriesAgain(layer, wanted, maxBytes, limits, options.signal)) out.set(entry, content);
    }
    return out;
  };
  const readFile = async (entry: EntryInfo, maxBytes: number): Promise<Buffer | undefined> => (await readFiles([entry], maxBytes)).get(entry);
  const byOrdinal = new Map<number, Map<number, EntryInfo>>();
  const entry = (layerIndex: number, ordinal: number): EntryInfo | undefined => {
    let map = byOrdinal.get(layerIndex);
    if (!map) {
      map = new Map((records[layerIndex]?.changes.entries ?? []).map((e) => [e.ordinal, e]));
      byOrdinal.set(layerIndex, map);
    }
    return map.get(ordinal);
  };
  const meta: LayerMeta[] = layers.map((l) => ({ index: l.index, digest: l.descriptor.digest, createdBy: l.createdBy }));
  const image: ImageView = { config, layers: meta, fs, views, readFile, readFiles, entry };

  const raw: RawFinding[] = records.flatMap((r) => [...r.findings, ...r.failed.map(({ analyzer, message }) => analyzerError(analyzer, message))]);
  const failed = new Set(records.flatMap((r) => r.failed.map((f) => f.analyzer)));
  let inventory: Inventory | undefined;
  const sink: FindingSink = {
    report: (finding) => raw.push(finding),
    inventory: (found) => {
      inventory = inventory ? { ...inventory, ...found, packages: [...inventory.packages, ...found.packages] } : found;
    },
  };
  for (const analyzer of analyzers) {
    if (failed.has(analyzer.id)) continue;
    try {
      await analyzer.conclude(runContext, { image, facts: records.map((r) => r.facts.get(analyzer.id) ?? null) }, sink);
    } catch (err) {
      if (stopsTheCheck(err, runContext)) throw err;
      raw.push(analyzerError(analyzer.id, `failed while concluding: ${(err as Error).message}`));
    }
  }

  const findings = raw.map((f) => place(f, layers, views));
  const stats = records.map((r) => r.stats);
  // Conclusions an analyzer could not reach (its error is a finding) may not be the image's doing: not remembered.
  if (imageKey && options.configDigest && !findings.some((f) => f.check === 'analyzer-error') && !options.signal?.aborted) {
    await options.cache?.putImage(imageKey, options.configDigest, { findings, inventory, layers: stats });
  }
  return { findings, inventory, layers: stats, cachedLayers, cachedImage: false };
}

/** A limit reached inside an analyzer (an archive that inflates without end) ends the check, and so does its deadline. */
function stopsTheCheck(err: unknown, context: AnalyzerContext): boolean {
  return (isImggateError(err) && err.code === 'LIMIT_EXCEEDED') || context.signal?.aborted === true;
}

function analyzerError(id: string, what: string): RawFinding {
  return { check: 'analyzer-error', rule: id, severity: 'high', blocking: true, message: `analyzer ${id} ${what}; its checks did not run` };
}

/** Counts a layer's bytes and entries against the image's totals. */
function spend(budget: { total: number; entries: number }, bytes: number, entries: number, limits: ScanLimits): void {
  budget.total += bytes;
  if (budget.total > limits.maxUncompressedTotalBytes) {
    throw new ImggateError('TOTAL_TOO_LARGE', `the image expands to more than ${limits.maxUncompressedTotalBytes} bytes; refusing to scan further`);
  }
  budget.entries += entries;
  if (budget.entries > limits.maxEntries) {
    throw new ImggateError('LIMIT_EXCEEDED', `the image has more than ${limits.maxEntries} entries over all layers (limits.maxEntries)`);
  }
}

function place(f: RawFinding, layers: readonly LayerInput[], views: ImageView['views']): Finding {
  const fs = (views[0] as ImageView['views'][number]).fs;
  // Still shipped and reachable in either snapshotter's view counts as final.
  const inFinal = (path: string, layerIndex: number): boolean => views.some((v) => v.fs.isInFinal(path, layerIndex));
  const layer = f.layerIndex === undefined ? undefined : layers[f.layerIndex];
  const finding: Finding = {
    check: f.check,
    rule: f.rule,
    severity: f.severity,
    blocking: f.blocking,
    message: f.message,
    ...(f.path !== undefined ? { path: f.shownPath ?? (layer && f.layerIndex !== undefined ? fs.resolvedPath(f.path, f.layerIndex) : f.path) } : {}),
    ...(layer ? { layer: layer.descriptor.digest } : {}),
    ...(layer?.createdBy ? { createdBy: layer.createdBy } : {}),
    ...(f.path !== undefined && f.layerIndex !== undefined ? { inFinalFilesystem: inFinal(f.path, f.layerIndex) } : {}),
    ...(f.fingerprint ? { fingerprint: f.fingerprint } : {}),
    ...(f.package ? { package: f.package } : {}),
    ...(f.line !== undefined ? { line: f.line } : {}),
  };
  return finding;
}

/** One layer's uncompressed tar stream, every stage checked: blob digest, size cap, diffID. */
interface OpenedLayer {
  readonly reader: ByteReader;
  readonly limit: ByteLimit;
  /** The first error anywhere in the chain (later ones are its echoes). */
  failure(): unknown;
  destroy(): void;
}

async function openLayer(layer: LayerInput, limits: ScanLimits, what: string): Promise<OpenedLayer> {
  const blob = await layer.open();
  const { head, rest } = await peek(blob, 4);
  const compression = sniffCompression(head);
  const stages: Transform[] = [...decompressors(compression)];
  const limit = new ByteLimit(limits.maxUncompressedLayerBytes, (n) =>
    new ImggateError('LAYER_TOO_LARGE', `${what} expands to more than ${limits.maxUncompressedLayerBytes} bytes (${n} so far); refusing a possible decompression bomb`),
  );
  stages.push(limit);
  if (layer.diffId) stages.push(new DigestVerifier({ digest: layer.diffId }, `${what}: uncompressed content (diffID)`));
  let failure: unknown;
  const streams = [rest, ...stages] as [Readable, ...Transform[]];
  for (const s of streams) s.on('error', (err) => (failure ??= err));
  pipeline(streams, (err) => {
    if (err) failure ??= err;
  });
  return {
    reader: new ByteReader(stages[stages.length - 1] as Transform),
    limit,
    failure: () => failure,
    destroy: () => {
      blob.destroy();
      rest.destroy();
    },
  };
}

/** Refuses a path deeper than `limits.maxPathDepth`: resolving it costs time in every view built. */
function checkPathDepth(path: string, limits: ScanLimits, what: string, noun: string): void {
  let depth = 0;
  for (let i = 0; i < path.length && depth <= limits.maxPathDepth; i++) {
    if (path.charCodeAt(i) !== 0x2f && (i === 0 || path.charCodeAt(i - 1) === 0x2f)) depth++;
  }
  if (depth > limits.maxPathDepth) {
    throw new ImggateError('LIMIT_EXCEEDED', `${what} ${noun} more than ${limits.maxPathDepth} components deep (limits.maxPathDepth)`);
  }
}

const layerName = (layer: LayerInput): string => `layer ${layer.index + 1} (${layer.descriptor.digest})`;

async function scanLayer(
  layer: LayerInput,
  analyzers: readonly Analyzer[],
  context: AnalyzerContext,
  limits: ScanLimits,
  budget: { total: number; entries: number },
  signal: AbortSignal | undefined,
): Promise<LayerRecord> {
  const what = layerName(layer);
  const findings: RawFinding[] = [];
  const failed: Array<{ analyzer: string; message: string }> = [];
  const sink: FindingSink = { report: (finding) => findings.push(finding) };
  const runs: PlacedRun[] = analyzers.map((analyzer) => ({ analyzer, run: analyzer.layer(context), failed: false }));
  const guard = (placed: PlacedRun, where: string, fn: () => void): void => {
    if (placed.failed) return;
    try {
      fn();
    } catch (err) {
      if (stopsTheCheck(err, context)) throw err;
      placed.failed = true;
      failed.push({ analyzer: placed.analyzer.id, message: `failed ${where}: ${(err as Error).message}` });
    }
  };
  const opened = await openLayer(layer, limits, what);
  const { reader, limit } = opened;
  const entries: EntryInfo[] = [];
  const whiteouts: Array<LayerChanges['whiteouts'][number]> = [];
  let count = 0;
  let lastBytes = 0;
  try {
    for await (const { header, body } of readTar(reader)) {
      signal?.throwIfAborted();
      const ordinal = count++;
      spend(budget, limit.bytes - lastBytes, 1, limits);
      lastBytes = limit.bytes;
      const path = normalizeEntryPath(header.name);
      checkPathDepth(path, limits, what, 'has a path');
      if (header.type === 'symlink' || header.type === 'hardlink') checkPathDepth(header.linkname, limits, what, `has a ${header.type === 'symlink' ? 'symlink' : 'hard link'} ${path} to a path`);
      const whiteout = whiteoutOf(path);
      if (whiteout === 'ignore') continue;
      const rooted = isRootedName(header.name);
      if (whiteout) {
        whiteouts.push({ ...whiteout, at: entries.length, ...(rooted ? { rooted } : {}) });
        continue;
      }
      const entry: EntryInfo = {
        path,
        type: header.type,
        mode: header.mode,
        uid: header.uid,
        gid: header.gid,
        uname: header.uname,
        gname: header.gname,
        size: header.size,
        linkname: header.linkname,
        xattrs: header.xattrs,
        layerIndex: layer.index,
        ordinal,
        ...(rooted ? { rooted } : {}),
      };
      entries.push(entry);
      // A global header only removes what is at its path (containerd's applier); no analyzer reads it.
      if (entry.type === 'global') continue;
      const wanted: PlacedRun[] = [];
      const streaming: PlacedRun[] = [];
      let contentBytes = 0;
      for (const placed of runs) {
        guard(placed, `on ${path}`, () => {
          const request = placed.run.wants(entry);
          if (request) {
            wanted.push(placed);
            if (request.stream && placed.run.analyzeChunk) streaming.push(placed);
            // Analyzers bound what they ask for: content scanners by maxFileBytes, database readers by their own cap.
            contentBytes = Math.max(contentBytes, request.contentBytes);
          }
        });
      }
      if (wanted.length === 0) continue;
      let content: Buffer | undefined;
      if (header.type === 'file' && streaming.length > 0) {
        const kept: Buffer[] = [];
        let offset = 0;
        for await (const chunk of body.chunks()) {
          // A single file can be gigabytes: the deadline holds inside it, not only between entries.
          signal?.throwIfAborted();
          for (const placed of streaming) guard(placed, `on ${path}`, () => placed.run.analyzeChunk?.(entry, chunk, offset));
          if (offset < contentBytes) kept.push(Buffer.from(chunk.subarray(0, contentBytes - offset)));
          offset += chunk.length;
        }
        content = contentBytes > 0 ? Buffer.concat(kept) : undefined;
      } else if (contentBytes > 0 && header.type === 'file') {
        content = await body.read(contentBytes);
      }
      const truncated = content !== undefined && header.size > content.length;
      signal?.throwIfAborted();
      for (const placed of wanted) guard(placed, `on ${path}`, () => placed.run.analyzeEntry(entry, content, truncated, sink));
    }
    // What follows the end-of-archive marker is still part of the blob and its digests.
    await reader.drain();
  } catch (err) {
    opened.destroy();
    throw asImggateError(opened.failure() ?? err, 'TAR_INVALID', what);
  }
  if (opened.failure()) throw asImggateError(opened.failure(), 'LAYER_DECOMPRESS_FAILED', what);
  spend(budget, limit.bytes - lastBytes, 0, limits);
  const facts = new Map<string, unknown>();
  for (const placed of runs) {
    if (placed.failed) continue;
    try {
      facts.set(placed.analyzer.id, await placed.run.facts());
    } catch (err) {
      if (stopsTheCheck(err, context)) throw err;
      failed.push({ analyzer: placed.analyzer.id, message: `failed on ${what}: ${(err as Error).message}` });
    }
  }
  return {
    changes: { layerIndex: layer.index, whiteouts, entries },
    stats: { index: layer.index, uncompressedSize: limit.bytes, entries: count },
    findings,
    facts,
    failed,
  };
}

/**
 * Streams a layer again, through every check of the first pass, up to the last of some entries, and
 * reads their content. Only files the analyzers could not know they needed come this way (the target of
 * a symlinked /etc/passwd, a package database behind a link), so the cost is paid only by images that
 * are built that way, and once a layer however many there are.
 */
async function readEntriesAgain(layer: LayerInput, entries: readonly EntryInfo[], maxBytes: number, limits: ScanLimits, signal: AbortSignal | undefined): Promise<Map<EntryInfo, Buffer>> {
  const out = new Map<EntryInfo, Buffer>();
  const byOrdinal = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.ordinal, e]));
  if (byOrdinal.size === 0) return out;
  const last = Math.max(...byOrdinal.keys());
  const what = layerName(layer);
  const opened = await openLayer(layer, limits, what);
  try {
    let ordinal = 0;
    for await (const { body } of readTar(opened.reader)) {
      signal?.throwIfAborted();
      const entry = byOrdinal.get(ordinal);
      if (entry) out.set(entry, await body.read(maxBytes));
      if (ordinal++ === last) return out;
    }
    throw new ImggateError('TAR_INVALID', `${what} no longer holds entry ${last} when read again`);
  } catch (err) {
    throw asImggateError(opened.failure() ?? err, 'TAR_INVALID', what);
  } finally {
    opened.destroy();
  }
}

/** Reads the first `n` bytes of a stream and gives back a stream that still starts with them. */
async function peek(stream: Readable, n: number): Promise<{ head: Buffer; rest: Readable }> {
  const iterator = stream[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < n) {
    const r = await iterator.next();
    if (r.done) {
      done = true;
      break;
    }
    const chunk = r.value as Buffer;
    chunks.push(chunk);
    length += chunk.length;
  }
  const head = Buffer.concat(chunks);
  const rest = Readable.from(
    (async function* () {
      if (head.length) yield head;
      if (done) return;
      for (;;) {
        const r = await iterator.next();
        if (r.done) return;
        yield r.value as Buffer;
      }
    })(),
    { objectMode: false },
  );
  return { head, rest };
}
