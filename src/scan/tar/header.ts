import { ImggateError } from '../../errors.js';
import { decodeName } from './names.js';

export const BLOCK = 512;

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo' | 'global' | 'other';

/** One tar header after PAX and GNU long-name records are applied, as Go's archive/tar reports it. */
export interface TarHeader {
  /** The name as the archive spells it (not yet normalised); bytes that are not UTF-8 are kept (see names.ts). */
  readonly name: string;
  readonly type: EntryType;
  readonly typeflag: string;
  readonly mode: number;
  /** As Go reads them (int64): may be negative or above 2^32; what the kernel makes of them is the reader's business. */
  readonly uid: number;
  readonly gid: number;
  readonly uname: string;
  readonly gname: string;
  /** Bytes of content that follow; 0 for header-only types whatever the size field says. */
  readonly size: number;
  readonly linkname: string;
  readonly mtime: number;
  /** `SCHILY.xattr.*` PAX records, by attribute name, as raw bytes. */
  readonly xattrs: ReadonlyMap<string, Buffer>;
  readonly format: 'v7' | 'ustar' | 'star' | 'pax' | 'gnu';
}

/** Fields a raw 512-byte block carries, before PAX and GNU records are merged. */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  format: 'v7' | 'ustar' | 'star' | 'gnu';
}

/** Go's parser.parseString: the bytes up to the first NUL. */
function cString(field: Buffer): string {
  const nul = field.indexOf(0);
  return decodeName(nul >= 0 ? field.subarray(0, nul) : field);
}

const field = (block: Buffer, start: number, length: number): Buffer => block.subarray(start, start + length);

function tarError(message: string): ImggateError {
  return new ImggateError('TAR_INVALID', message);
}

/**
 * Go's parser.parseOctal: leading and trailing spaces and NULs trimmed, then the text up to the first
 * NUL read as unsigned octal (no sign, no other byte); an empty field is 0.
 */
function parseOctal(value: Buffer, what: string): number {
  let start = 0;
  let end = value.length;
  while (start < end && (value[start] === 0x20 || value[start] === 0)) start++;
  while (end > start && (value[end - 1] === 0x20 || value[end - 1] === 0)) end--;
  if (start === end) return 0;
  let digits = value.subarray(start, end);
  const nul = digits.indexOf(0);
  if (nul >= 0) digits = digits.subarray(0, nul);
  const text = digits.toString('latin1');
  if (!/^[0-7]+$/.test(text)) throw tarError(`tar header field ${what} is not octal: ${JSON.stringify(text.slice(0, 20))}`);
  const parsed = BigInt(`0o${text}`);
  if (parsed >= 1n << 64n) throw tarError(`tar header field ${what} is out of range`);
  return toSafe(BigInt.asIntN(64, parsed), what);
}

function toSafe(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw tarError(`tar header field ${what} is out of range`);
  return Number(value);
}

/** Go's parser.parseNumeric: base-256 two's complement when the first byte's top bit is set, else octal. */
export function parseNumeric(value: Buffer, what: string): number {
  const first = value[0] ?? 0;
  if (value.length > 0 && first & 0x80) {
    const inv = first & 0x40 ? 0xff : 0;
    let x = 0n;
    for (let i = 0; i < value.length; i++) {
      let c = (value[i] ?? 0) ^ inv;
      if (i === 0) c &= 0x7f;
      if (x >> 56n > 0n) throw tarError(`tar header field ${what} is out of range`);
      x = (x << 8n) | BigInt(c);
    }
    if (x >> 63n > 0n) throw tarError(`tar header field ${what} is out of range`);
    return toSafe(inv ? -x - 1n : x, what);
  }
  return parseOctal(value, what);
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s);

/**
 * Parses one header block exactly as Go's archive/tar readHeader does (containerd applies layers with
 * it): checksum (unsigned or signed sum), the format by magic alone (`ustar\0` with any version is
 * USTAR/PAX and its prefix is used; a `tar\0` trailer makes it STAR with a shorter prefix; `ustar `
 * with version ` \0` is GNU, whose atime/ctime fields fall back to being a prefix when they do not
 * parse), and every numeric field Go parses, so that a header Go refuses is refused here too.
 */
export function parseRawHeader(block: Buffer, offset: number): RawHeader {
  let stored: number;
  try {
    stored = parseOctal(field(block, 148, 8), 'chksum');
  } catch {
    throw tarError(`tar header at offset ${offset} has an unreadable checksum`);
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) throw tarError(`tar header at offset ${offset} has a bad checksum`);
  const magic = field(block, 257, 6).toString('latin1');
  const version = field(block, 263, 2).toString('latin1');
  const trailer = field(block, 508, 4).toString('latin1');
  let format: RawHeader['format'] = 'v7';
  if (magic === 'ustar\0' && trailer === 'tar\0') format = 'star';
  else if (magic === 'ustar\0') format = 'ustar';
  else if (magic === 'ustar ' && version === ' \0') format = 'gnu';

  let name = cString(field(block, 0, 100));
  const raw: RawHeader = {
    name,
    typeflag: String.fromCharCode(block[156] ?? 0),
    linkname: cString(field(block, 157, 100)),
    size: parseNumeric(field(block, 124, 12), 'size'),
    mode: parseNumeric(field(block, 100, 8), 'mode'),
    uid: parseNumeric(field(block, 108, 8), 'uid'),
    gid: parseNumeric(field(block, 116, 8), 'gid'),
    mtime: parseNumeric(field(block, 136, 12), 'mtime'),
    uname: '',
    gname: '',
    format,
  };
  if (format === 'v7') return raw;
  raw.uname = cString(field(block, 265, 32));
  raw.gname = cString(field(block, 297, 32));
  parseNumeric(field(block, 329, 8), 'devmajor');
  parseNumeric(field(block, 337, 8), 'devminor');
  let prefix = '';
  if (format === 'ustar') {
    prefix = cString(field(block, 345, 155));
  } else if (format === 'star') {
    prefix = cString(field(block, 345, 131));
    parseNumeric(field(block, 476, 12), 'atime');
    parseNumeric(field(block, 488, 12), 'ctime');
  } else {
    // Go reads GNU atime/ctime skeptically: when either does not parse (pre-Go 1.8 writers put a prefix
    // there), the USTAR prefix field is used as a prefix if it is ASCII.
    let timesParse = true;
    for (const [start, what] of [[345, 'atime'], [357, 'ctime']] as const) {
      const value = field(block, start, 12);
      if (value[0] === 0) continue;
      try {
        parseNumeric(value, what);
      } catch {
        timesParse = false;
      }
    }
    if (!timesParse) {
      const candidate = cString(field(block, 345, 155));
      if (isAscii(candidate)) prefix = candidate;
    }
  }
  if (prefix.length > 0) name = `${prefix}/${name}`;
  raw.name = name;
  return raw;
}

/**
 * Parses PAX extended-header records (`LEN KEY=VALUE\n`) as Go's parsePAXRecord does. Values may hold
 * any bytes, newlines included (capability xattrs do), so records are split by their declared length,
 * never by lines. A later record with the same key replaces an earlier one.
 */
export function parsePaxRecords(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) throw tarError('malformed PAX record length');
    const lengthText = data.subarray(i, space).toString('latin1');
    // strconv.ParseInt(s, 10, 0): an optional sign, then decimal digits (leading zeros allowed).
    if (!/^[+-]?[0-9]+$/.test(lengthText) || lengthText.length > 20) throw tarError('malformed PAX record length');
    const length = Number(lengthText);
    if (!Number.isSafeInteger(length) || length < 5 || length > data.length - i) throw tarError('malformed PAX record length');
    const end = i + length;
    if (end <= space + 1 || data[end - 1] !== 0x0a) throw tarError('PAX record overruns its header');
    const record = data.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw tarError('PAX record without a key');
    const keyBytes = record.subarray(0, eq);
    const value = record.subarray(eq + 1);
    const key = keyBytes.toString('latin1');
    if (key === 'path' || key === 'linkpath' || key === 'uname' || key === 'gname') {
      if (value.includes(0)) throw tarError(`PAX ${key} contains NUL`);
    } else if (keyBytes.includes(0)) {
      throw tarError('PAX record key contains NUL');
    }
    if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') throw tarError('PAX sparse records: sparse files are not supported in layers');
    records.set(decodeName(keyBytes), Buffer.from(value));
    i = end;
  }
  return records;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  '6': 'fifo',
  g: 'global',
};

export function entryType(typeflag: string, name: string): EntryType {
  // Pre-POSIX archives mark directories by a trailing slash on a regular entry (Go's TypeRegA rule).
  if (typeflag === '\0' && name.endsWith('/')) return 'directory';
  return TYPES[typeflag] ?? 'other';
}

/** Types whose size field says nothing about following data (Go's isHeaderOnlyType). */
export function isHeaderOnly(type: EntryType): boolean {
  return type === 'hardlink' || type === 'symlink' || type === 'char' || type === 'block' || type === 'directory' || type === 'fifo';
}
