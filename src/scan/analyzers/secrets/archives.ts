import { gunzipSync, inflateRawSync } from 'node:zlib';

/** Caps on what one archive may inflate to: a bomb ends in an error, never in hours of work. */
export interface InflateLimits {
  /** Bytes one entry (or a gzip member stream) may inflate to. */
  readonly entryBytes: number;
  /** Bytes all entries of one archive may inflate to together. */
  readonly totalBytes: number;
  /** Entries of one zip read at most. */
  readonly entries: number;
}

export const DEFAULT_INFLATE_LIMITS: InflateLimits = { entryBytes: 16 * 1024 * 1024, totalBytes: 64 * 1024 * 1024, entries: 10_000 };

/** One member of an archive, inflated. */
export interface Inflated {
  readonly name: string;
  readonly bytes: Buffer;
}

/** Why an archive was not read whole; the caller turns it into a finding (fail closed). */
export class ArchiveLimitError extends Error {}

export type ArchiveKind = 'gzip' | 'zip';

export function archiveKind(head: Buffer): ArchiveKind | undefined {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  return undefined;
}

function inflateCapped(fn: typeof gunzipSync, data: Buffer, cap: number, what: string): Buffer {
  try {
    return fn(data, { maxOutputLength: cap });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new ArchiveLimitError(`${what} inflates to more than ${cap} bytes`);
    throw new ArchiveLimitError(`${what} cannot be inflated: ${(err as Error).message}`);
  }
}

/** A gzip file's content (all members), inflated up to the entry cap. */
export function gunzipCapped(data: Buffer, limits: InflateLimits): Inflated[] {
  return [{ name: '', bytes: inflateCapped(gunzipSync, data, Math.min(limits.entryBytes, limits.totalBytes), 'the gzip stream') }];
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/**
 * A zip's (jar's, wheel's) entries, from its central directory, each inflated under the caps. Entries
 * that share one local header (a known bomb shape: thousands of names over one huge stream) are
 * inflated once. Stored and deflated entries are read; other methods, encryption and ZIP64 are
 * errors, since their content cannot be vouched for.
 */
export function unzipCapped(data: Buffer, limits: InflateLimits): Inflated[] {
  let eocd = -1;
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 0xffff); i--) {
    if (data.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ArchiveLimitError('no zip central directory found');
  const count = data.readUInt16LE(eocd + 10);
  const dirOffset = data.readUInt32LE(eocd + 16);
  if (count === 0xffff || dirOffset === 0xffffffff) throw new ArchiveLimitError('ZIP64 archives are not read');
  if (count > limits.entries) throw new ArchiveLimitError(`${count} entries, more than the ${limits.entries} read`);
  const out: Inflated[] = [];
  const seen = new Set<number>();
  let total = 0;
  let p = dirOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > data.length || data.readUInt32LE(p) !== CENTRAL) throw new ArchiveLimitError('a truncated zip central directory');
    const flags = data.readUInt16LE(p + 8);
    const method = data.readUInt16LE(p + 10);
    const compressed = data.readUInt32LE(p + 20);
    const nameLength = data.readUInt16LE(p + 28);
    const extraLength = data.readUInt16LE(p + 30);
    const commentLength = data.readUInt16LE(p + 32);
    const local = data.readUInt32LE(p + 42);
    const name = data.subarray(p + 46, p + 46 + nameLength).toString('utf8');
    p += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue;
    if (seen.has(local)) continue;
    seen.add(local);
    if (flags & 1) throw new ArchiveLimitError(`entry ${JSON.stringify(name)} is encrypted`);
    if (local + 30 > data.length || data.readUInt32LE(local) !== LOCAL) throw new ArchiveLimitError(`entry ${JSON.stringify(name)} has no local header`);
    const start = local + 30 + data.readUInt16LE(local + 26) + data.readUInt16LE(local + 28);
    const raw = data.subarray(start, start + compressed);
    const left = limits.totalBytes - total;
    const cap = Math.min(limits.entryBytes, left);
    let bytes: Buffer;
    if (method === 0) {
      if (raw.length > cap) throw new ArchiveLimitError(`entry ${JSON.stringify(name)} is larger than ${cap} bytes`);
      bytes = raw;
    } else if (method === 8) {
      bytes = inflateCapped(inflateRawSync, raw, cap, `entry ${JSON.stringify(name)}`);
    } else {
      throw new ArchiveLimitError(`entry ${JSON.stringify(name)} uses compression method ${method}`);
    }
    total += bytes.length;
    out.push({ name, bytes });
  }
  return out;
}
