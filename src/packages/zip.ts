import { inflateRawSync } from 'node:zlib';
import { ImggateError } from '../errors.js';

/** Reading zip archives held in memory (APPNOTE: end of central directory, central and local headers). */
const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Bytes one member is inflated to at most, whatever the archive's budget. */
export const MAX_MEMBER_BYTES = 64 * 1024 * 1024;

export interface ZipMember {
  readonly name: string;
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localOffset: number;
  /** Bit 0 of the general purpose flags: the content is encrypted. */
  readonly encrypted: boolean;
}

/** The central directory; empty when the data is not a zip imggate can read (ZIP64 is not). */
export function members(zip: Buffer): ZipMember[] {
  return directory(zip).members;
}

/**
 * The central directory, and why it could not be read whole: no end-of-central-directory record (not a
 * zip, or cut short), a ZIP64 archive (counts or offsets past the 32-bit fields), or a directory that
 * ends before the count it declares. Callers that list what an archive holds report `problem`.
 */
export function directory(zip: Buffer): { members: ZipMember[]; problem?: string } {
  if (zip.length < 22) return { members: [], problem: 'it is too short to be a zip archive' };
  const from = Math.max(0, zip.length - 22 - 65535);
  let eocd = -1;
  for (let i = zip.length - 22; i >= from; i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return { members: [], problem: 'it has no zip end-of-central-directory record (not a zip, or cut short)' };
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || at === 0xffffffff || zip.readUInt32LE(eocd + 12) === 0xffffffff) return { members: [], problem: 'it is a ZIP64 archive, which imggate does not read' };
  const out: ZipMember[] = [];
  for (let n = 0; n < count; n++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== CENTRAL) return { members: out, problem: `its central directory ends after ${n} of the ${count} members it declares` };
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    out.push({
      name: zip.subarray(at + 46, at + 46 + nameLength).toString('utf8'),
      method: zip.readUInt16LE(at + 10),
      compressedSize: zip.readUInt32LE(at + 20),
      size: zip.readUInt32LE(at + 24),
      localOffset: zip.readUInt32LE(at + 42),
      encrypted: (zip.readUInt16LE(at + 8) & 1) !== 0,
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return { members: out };
}

/** What one archive's members, nested archives included, may inflate to unless `limits.maxArchiveInflate` says. */
export const DEFAULT_ARCHIVE_INFLATE_BYTES = 1024 * 1024 * 1024;

/**
 * What inflating the members of one archive (and the archives inside it) may still produce. Members
 * can share one deflate stream, so a 1 MiB zip can name gigabytes: the budget stops that as an error.
 */
export interface InflateBudget {
  remaining: number;
  readonly limit: number;
  readonly what: string;
}

export function extract(zip: Buffer, m: ZipMember, budget?: InflateBudget): Buffer | undefined {
  const read = readMember(zip, m, budget);
  return read.data;
}

/**
 * A member's content, or why it cannot be read (for callers that must fail closed). Throws
 * `LIMIT_EXCEEDED` when the member would take the archive past its budget.
 */
export function readMember(zip: Buffer, m: ZipMember, budget?: InflateBudget): { data: Buffer; why?: undefined } | { data?: undefined; why: string } {
  if (m.localOffset + 30 > zip.length || zip.readUInt32LE(m.localOffset) !== LOCAL) return { why: 'its local header is missing' };
  if (m.compressedSize === 0xffffffff) return { why: 'it is a ZIP64 member' };
  if (m.size > MAX_MEMBER_BYTES) return { why: `it inflates to more than ${MAX_MEMBER_BYTES} bytes` };
  if (m.encrypted) return { why: 'it is encrypted' };
  if (m.method !== 0 && m.method !== 8) return { why: `it uses compression method ${m.method}` };
  if (budget) {
    if (m.size > budget.remaining) {
      throw new ImggateError('LIMIT_EXCEEDED', `${budget.what}: its members inflate to more than ${budget.limit} bytes (limits.maxArchiveInflate)`);
    }
    budget.remaining -= m.size;
  }
  const start = m.localOffset + 30 + zip.readUInt16LE(m.localOffset + 26) + zip.readUInt16LE(m.localOffset + 28);
  const data = zip.subarray(start, start + m.compressedSize);
  if (m.method === 0) return data.length === m.size ? { data } : { why: 'it is truncated' };
  try {
    return { data: inflateRawSync(data, { maxOutputLength: Math.max(1, m.size) }) };
  } catch (err) {
    // Inflating past the size the directory declares (which the budget was charged) is refused too.
    return { why: `it cannot be inflated to its declared ${m.size} bytes: ${(err as Error).message}` };
  }
}
