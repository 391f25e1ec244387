import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Inventory } from '../packages/types.js';
import { VERSION } from '../version.js';
import type { Finding } from '../report/types.js';
import type { Analyzer, AnalyzerContext, EntryInfo, RawFinding } from './analyzer.js';
import type { LayerStats, ScanLimits } from './engine.js';
import type { LayerChanges } from './filesystem.js';
import type { EntryType } from './tar/header.js';

/** What one layer holds, as the engine and the analyzers' layer runs found it. */
export interface LayerRecord {
  readonly changes: LayerChanges;
  readonly stats: LayerStats;
  /** Findings the layer runs reported, each in this layer. */
  readonly findings: readonly RawFinding[];
  /** Each analyzer's facts by id; none for an analyzer that failed on the layer. */
  readonly facts: ReadonlyMap<string, unknown>;
  /** Analyzers that failed on the layer: such a record is never cached. */
  readonly failed: ReadonlyArray<{ readonly analyzer: string; readonly message: string }>;
}

/**
 * What the analyzers concluded from all of an image's layers and its config, placed: the findings, the
 * inventory and each layer's size. A digest checked again needs neither its layers nor their records.
 */
export interface ImageRecord {
  readonly findings: readonly Finding[];
  readonly inventory: Inventory | undefined;
  readonly layers: readonly LayerStats[];
}

/** What the engine asks of a layer cache. */
export interface LayerCache {
  get(key: string, layerIndex: number): Promise<LayerRecord | undefined>;
  put(key: string, diffId: string, record: LayerRecord): Promise<void>;
  /** The conclusions stored under `key` (imageCacheKey) for an image of `layerCount` layers. */
  getImage(key: string, layerCount: number): Promise<ImageRecord | undefined>;
  putImage(key: string, configDigest: string, record: ImageRecord): Promise<void>;
}

/** Rows of encoded records, as a store keeps them (a `layer_facts` table, in SQLite or PostgreSQL). */
export interface LayerFactsRows {
  read(key: string): Promise<{ readonly bytes: Buffer; readonly sha256: string } | undefined>;
  /** Stores a row and evicts the least recently used ones past the store's bound. */
  write(key: string, diffId: string, bytes: Buffer, sha256: string): Promise<void>;
  remove(key: string): Promise<void>;
}

/**
 * The layer cache over a store's rows: a row that does not read back exactly as written is removed
 * and the layer read again. A store that cannot be read or written costs a read of the layer,
 * nothing else: the cache never decides a verdict.
 */
export class StoredLayerCache implements LayerCache {
  constructor(
    readonly rows: LayerFactsRows,
    readonly analyzers: readonly Analyzer[],
  ) {}

  get(key: string, layerIndex: number): Promise<LayerRecord | undefined> {
    return this.#read(key, (bytes, sha256) => decodeLayerRecord(key, bytes, sha256, layerIndex, this.analyzers));
  }

  put(key: string, diffId: string, record: LayerRecord): Promise<void> {
    return this.#write(key, diffId, () => encodeLayerRecord(key, record));
  }

  getImage(key: string, layerCount: number): Promise<ImageRecord | undefined> {
    return this.#read(key, (bytes, sha256) => decodeImageRecord(key, bytes, sha256, layerCount));
  }

  /** Kept beside the layers' rows, under the same bound; the row names the image's config. */
  putImage(key: string, configDigest: string, record: ImageRecord): Promise<void> {
    return this.#write(key, configDigest, () => encodeImageRecord(key, record));
  }

  async #read<T>(key: string, decode: (bytes: Buffer, sha256: string) => T | undefined): Promise<T | undefined> {
    try {
      const row = await this.rows.read(key);
      if (!row) return undefined;
      const record = decode(row.bytes, row.sha256);
      if (!record) await this.rows.remove(key);
      return record;
    } catch {
      return undefined;
    }
  }

  async #write(key: string, label: string, encode: () => { bytes: Buffer; sha256: string }): Promise<void> {
    try {
      const { bytes, sha256 } = encode();
      await this.rows.write(key, label, bytes, sha256);
    } catch {
      // Not kept: the next check reads the layer again.
    }
  }
}

/** Raise when the record's form changes: older rows then miss and are evicted in time. */
const SCHEMA = 'imggate.layer-facts/v3';

/**
 * A record's key: the layer's diffID (its uncompressed bytes), every analyzer with its version, the
 * digest of the rules that shaped the facts, and the limits a layer's reading obeys.
 */
export function layerCacheKey(diffId: string, analyzers: readonly Analyzer[], context: AnalyzerContext, limits: ScanLimits): string {
  const canonical = JSON.stringify([
    SCHEMA,
    diffId,
    analyzers.map((a) => `${a.id}@${a.version}`),
    context.rules.digest,
    context.maxFileBytes,
    context.maxArchiveInflateBytes ?? null,
    limits.maxUncompressedLayerBytes,
    limits.maxPathDepth,
  ]);
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}

/** `flags`: 1 the tar name was rooted (EntryInfo `rooted`). */
type EncodedEntry = [path: string, type: EntryType, mode: number, uid: number, gid: number, uname: string, gname: string, size: number, linkname: string, ordinal: number, xattrs?: Array<[string, string]>, flags?: number];

interface Encoded {
  readonly schema: string;
  readonly key: string;
  readonly entries: EncodedEntry[];
  readonly whiteouts: LayerChanges['whiteouts'];
  readonly stats: { readonly uncompressedSize: number; readonly entries: number };
  /** Findings with `layerIndex` dropped; `inLayer` says whether they had one. */
  readonly findings: Array<Omit<RawFinding, 'layerIndex'> & { readonly inLayer?: true }>;
  readonly facts: Record<string, unknown>;
}

/** A record as the store keeps it (see seal). */
export function encodeLayerRecord(key: string, record: LayerRecord): { bytes: Buffer; sha256: string } {
  const encoded: Encoded = {
    schema: SCHEMA,
    key,
    entries: record.changes.entries.map((e) => {
      const row: EncodedEntry = [e.path, e.type, e.mode, e.uid, e.gid, e.uname, e.gname, e.size, e.linkname, e.ordinal];
      const flags = e.rooted ? 1 : 0;
      if (e.xattrs.size > 0 || flags !== 0) row.push([...e.xattrs].map(([k, v]) => [k, v.toString('base64')]));
      if (flags !== 0) row.push(flags);
      return row;
    }),
    whiteouts: record.changes.whiteouts,
    stats: { uncompressedSize: record.stats.uncompressedSize, entries: record.stats.entries },
    findings: record.findings.map(({ layerIndex, ...f }) => (layerIndex === undefined ? f : { ...f, inLayer: true as const })),
    facts: Object.fromEntries(record.facts),
  };
  return seal(encoded);
}

/** A value as the store keeps it: gzip'd JSON, and the sha256 of those bytes to check on read. */
function seal(value: unknown): { bytes: Buffer; sha256: string } {
  const bytes = gzipSync(JSON.stringify(value), { level: 1 });
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** The value sealed in `bytes` when it is of `schema` and `key`; undefined for any other bytes. */
function unseal(bytes: Buffer, sha256: string, schema: string, key: string): Record<string, unknown> | undefined {
  if (createHash('sha256').update(bytes).digest('hex') !== sha256) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(gunzipSync(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  return isObject(v) && v['schema'] === schema && v['key'] === key ? v : undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ENTRY_TYPES = new Set<string>(['file', 'hardlink', 'symlink', 'char', 'block', 'directory', 'fifo', 'global', 'other']);

function validEntry(e: unknown): e is EncodedEntry {
  if (!Array.isArray(e) || e.length < 10 || e.length > 12) return false;
  const [path, type, mode, uid, gid, uname, gname, size, linkname, ordinal, xattrs, flags] = e as unknown[];
  return (
    typeof path === 'string' && path.startsWith('/') && typeof type === 'string' && ENTRY_TYPES.has(type) &&
    [mode, uid, gid, size, ordinal].every((n) => Number.isSafeInteger(n) && (n as number) >= 0) &&
    typeof uname === 'string' && typeof gname === 'string' && typeof linkname === 'string' &&
    (xattrs === undefined || (Array.isArray(xattrs) && xattrs.every((x) => Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string'))) &&
    (flags === undefined || flags === 1 || flags === 2 || flags === 3)
  );
}

const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';

/** A finding as a row keeps it, a layer's (before it is placed) or an image's (placed): its fields of the types they have. */
function validFinding(f: unknown): boolean {
  return (
    isObject(f) && typeof f['check'] === 'string' && typeof f['rule'] === 'string' && typeof f['severity'] === 'string' &&
    typeof f['message'] === 'string' && typeof f['blocking'] === 'boolean' && optionalString(f['path']) && optionalString(f['shownPath']) &&
    optionalString(f['layer']) && optionalString(f['fingerprint']) && (f['inFinalFilesystem'] === undefined || typeof f['inFinalFilesystem'] === 'boolean')
  );
}

/**
 * The record stored under `key`, placed at `layerIndex` of the image being checked; undefined when
 * the bytes are not what was written (checksum, form, key or an analyzer missing).
 */
export function decodeLayerRecord(key: string, bytes: Buffer, sha256: string, layerIndex: number, analyzers: readonly Analyzer[]): LayerRecord | undefined {
  const v = unseal(bytes, sha256, SCHEMA, key);
  if (!v) return undefined;
  const { entries, whiteouts, stats, findings, facts } = v as unknown as Encoded;
  if (!Array.isArray(entries) || !entries.every(validEntry) || !Array.isArray(whiteouts) || !Array.isArray(findings) || !isObject(facts) || !isObject(stats)) return undefined;
  if (!Number.isSafeInteger(stats.uncompressedSize) || !Number.isSafeInteger(stats.entries)) return undefined;
  if (!analyzers.every((a) => Object.hasOwn(facts, a.id))) return undefined;
  if (!findings.every(validFinding)) return undefined;
  const restored: EntryInfo[] = entries.map(([path, type, mode, uid, gid, uname, gname, size, linkname, ordinal, xattrs, flags = 0]) => ({
    path,
    type,
    mode,
    uid,
    gid,
    uname,
    gname,
    size,
    linkname,
    ordinal,
    xattrs: new Map((xattrs ?? []).map(([k, b]) => [k, Buffer.from(b, 'base64')])),
    layerIndex,
    ...(flags & 1 ? { rooted: true as const } : {}),
  }));
  return {
    changes: { layerIndex, whiteouts, entries: restored },
    stats: { index: layerIndex, uncompressedSize: stats.uncompressedSize, entries: stats.entries },
    findings: findings.map(({ inLayer, ...f }) => (inLayer ? { ...f, layerIndex } : f)),
    facts: new Map(Object.entries(facts)),
    failed: [],
  };
}

/** Raise when the record's form, or what the engine concludes and places from the same records, changes. */
const IMAGE_SCHEMA = 'imggate.image-facts/v3';

/**
 * The key of an image's conclusions: its config (by digest), each layer as the report names it (blob
 * digest and build step) with its record's key (diffID, analyzers, rules, the limits of reading it),
 * and the limits that bound what is built from all layers together. The views and the placing of
 * findings are the engine's, not an analyzer's, so imggate's own version is in the key as well: a
 * release that changes how layers are applied never answers from an earlier release's conclusions.
 */
export function imageCacheKey(
  configDigest: string,
  layers: ReadonlyArray<{ readonly digest: string; readonly createdBy: string | undefined; readonly key: string }>,
  limits: ScanLimits,
): string {
  const canonical = JSON.stringify([
    IMAGE_SCHEMA,
    VERSION,
    configDigest,
    layers.map((l) => [l.digest, l.createdBy ?? null, l.key]),
    limits.maxUncompressedTotalBytes,
    limits.maxDirectoryEntries,
    limits.maxEntries,
  ]);
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}

export function encodeImageRecord(key: string, record: ImageRecord): { bytes: Buffer; sha256: string } {
  return seal({
    schema: IMAGE_SCHEMA,
    key,
    findings: record.findings,
    inventory: record.inventory ?? null,
    layers: record.layers.map((l) => [l.uncompressedSize, l.entries]),
  });
}

/** The conclusions stored under `key`, for an image of `layerCount` layers; undefined for any other bytes. */
export function decodeImageRecord(key: string, bytes: Buffer, sha256: string, layerCount: number): ImageRecord | undefined {
  const v = unseal(bytes, sha256, IMAGE_SCHEMA, key);
  if (!v) return undefined;
  const { findings, inventory, layers } = v;
  if (!Array.isArray(findings) || !findings.every(validFinding)) return undefined;
  if (inventory !== null && !(isObject(inventory) && Array.isArray(inventory['packages']))) return undefined;
  if (!Array.isArray(layers) || layers.length !== layerCount) return undefined;
  if (!layers.every((l) => Array.isArray(l) && l.length === 2 && l.every((n) => Number.isSafeInteger(n) && (n as number) >= 0))) return undefined;
  return {
    findings: findings as Finding[],
    inventory: (inventory ?? undefined) as Inventory | undefined,
    layers: (layers as Array<[number, number]>).map(([uncompressedSize, entries], index) => ({ index, uncompressedSize, entries })),
  };
}
