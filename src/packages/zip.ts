import { inflateRawSync } from 'node:zlib';
import { ImggateError } from '../errors.js';

/** Reading zip archives held in memory (APPNOTE: end of central directory, central and local headers). */
const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_MEMBER_BYTES = 64 * 1024 * 1024;

export interface ZipMember {
  readonly name: string;
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localOffset: number;
}

/** The central directory; empty when the data is not a zip imggate can read (ZIP64 is not). */
export function members(zip: Buffer): ZipMember[] {
  const from = Math.max(0, zip.length - 22 - 65535);
  let eocd = -1;
  for (let i = zip.length - 22; i >= from; i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return [];
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const out: ZipMember[] = [];
  for (let n = 0; n < count && at + 46 <= zip.length; n++) {
    if (zip.readUInt32LE(at) !== CENTRAL) break;
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    out.push({
      name: zip.subarray(at + 46, at + 46 + nameLength).toString('utf8'),
      method: zip.readUInt16LE(at + 10),
      compressedSize: zip.readUInt32LE(at + 20),
      size: zip.readUInt32LE(at + 24),
      localOffset: zip.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return out;
}

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
  if (m.localOffset + 30 > zip.length || zip.readUInt32LE(m.localOffset) !== LOCAL) return undefined;
  if (m.size > MAX_MEMBER_BYTES || m.compressedSize === 0xffffffff) return undefined;
  if (budget) {
    if (m.size > budget.remaining) {
      throw new ImggateError('LIMIT_EXCEEDED', `${budget.what}: its members inflate to more than ${budget.limit} bytes (limits.maxArchiveInflate)`);
    }
    budget.remaining -= m.size;
  }
  const start = m.localOffset + 30 + zip.readUInt16LE(m.localOffset + 26) + zip.readUInt16LE(m.localOffset + 28);
  const data = zip.subarray(start, start + m.compressedSize);
  try {
    if (m.method === 0) return data;
    if (m.method === 8) return inflateRawSync(data, { maxOutputLength: Math.max(1, m.size) });
  } catch {
    return undefined;
  }
  return undefined;
}

