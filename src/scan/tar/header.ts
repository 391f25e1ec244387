import { ImggateError } from '../../errors.js';

export const BLOCK = 512;

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo' | 'other';

/** One tar header after PAX and GNU long-name records are applied, as Go's archive/tar reports it. */
export interface TarHeader {
  /** The name as the archive spells it (not yet normalised). */
  readonly name: string;
  readonly type: EntryType;
  readonly typeflag: string;
  readonly mode: number;
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
  readonly format: 'v7' | 'ustar' | 'pax' | 'gnu';
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
  format: 'v7' | 'ustar' | 'gnu';
}

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return (nul >= 0 ? field.subarray(0, nul) : field).toString('utf8');
}

/** Octal, or GNU base-256 when the top bit of the first byte is set (two's complement). */
export function parseNumeric(field: Buffer, what: string): number {
  const first = field[0] ?? 0;
  if (first & 0x80) {
    // Negative values (bit 6 set) mean nothing valid in a layer: refuse them with the too-large ones.
    if (first & 0x40) throw new ImggateError('TAR_INVALID', `tar header field ${what} is negative`);
    let value = 0n;
    for (let i = 0; i < field.length; i++) value = (value << 8n) | BigInt(i === 0 ? first & 0x7f : (field[i] ?? 0));
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ImggateError('TAR_INVALID', `tar header field ${what} is out of range`);
    return Number(value);
  }
  const text = field.toString('latin1').replace(/^[ \0]+/, '').replace(/[ \0]+$/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new ImggateError('TAR_INVALID', `tar header field ${what} is not octal: ${JSON.stringify(text.slice(0, 20))}`);
  const value = parseInt(text, 8);
  if (!Number.isSafeInteger(value)) throw new ImggateError('TAR_INVALID', `tar header field ${what} is out of range`);
  return value;
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Parses and checksums one header block (Go accepts the unsigned or the signed byte sum; so does this). */
export function parseRawHeader(block: Buffer, offset: number): RawHeader {
  const stored = parseNumeric(block.subarray(148, 156), 'chksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new ImggateError('TAR_INVALID', `tar header at offset ${offset} has a bad checksum`);
  }
  const magic = block.subarray(257, 263).toString('latin1');
  const version = block.subarray(263, 265).toString('latin1');
  let format: RawHeader['format'] = 'v7';
  if (magic === 'ustar\0' && version === '00') format = 'ustar';
  else if (magic === 'ustar ' && version === ' \0') format = 'gnu';
  let name = cString(block, 0, 100);
  if (format === 'ustar') {
    const prefix = cString(block, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  return {
    name,
    mode: parseNumeric(block.subarray(100, 108), 'mode'),
    uid: parseNumeric(block.subarray(108, 116), 'uid'),
    gid: parseNumeric(block.subarray(116, 124), 'gid'),
    size: parseNumeric(block.subarray(124, 136), 'size'),
    mtime: parseNumeric(block.subarray(136, 148), 'mtime'),
    typeflag: String.fromCharCode(block[156] ?? 0),
    linkname: cString(block, 157, 100),
    uname: format === 'v7' ? '' : cString(block, 265, 32),
    gname: format === 'v7' ? '' : cString(block, 297, 32),
    format,
  };
}

/**
 * Parses PAX extended-header records (`LEN KEY=VALUE\n`). Values may hold any bytes, newlines
 * included (capability xattrs do), so records are split by their declared length, never by lines.
 */
export function parsePaxRecords(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0 || space - i > 20) throw new ImggateError('TAR_INVALID', 'malformed PAX record length');
    const lengthText = data.subarray(i, space).toString('latin1');
    if (!/^[1-9][0-9]*$/.test(lengthText)) throw new ImggateError('TAR_INVALID', 'malformed PAX record length');
    const length = Number(lengthText);
    const end = i + length;
    if (end > data.length || data[end - 1] !== 0x0a || end <= space + 1) {
      throw new ImggateError('TAR_INVALID', 'PAX record overruns its header');
    }
    const record = data.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new ImggateError('TAR_INVALID', 'PAX record without a key');
    const key = record.subarray(0, eq).toString('utf8');
    if (key.includes('\0')) throw new ImggateError('TAR_INVALID', 'PAX record key contains NUL');
    const value = record.subarray(eq + 1);
    if ((key === 'path' || key === 'linkpath' || key === 'uname' || key === 'gname') && value.includes(0)) {
      throw new ImggateError('TAR_INVALID', `PAX ${key} contains NUL`);
    }
    records.set(key, Buffer.from(value));
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
};

export function entryType(typeflag: string, name: string): EntryType {
  // Pre-POSIX archives mark directories by a trailing slash on a regular entry.
  if (typeflag === '\0' && name.endsWith('/')) return 'directory';
  return TYPES[typeflag] ?? 'other';
}

/** Types whose size field says nothing about following data (Go's isHeaderOnlyType). */
export function isHeaderOnly(type: EntryType): boolean {
  return type === 'hardlink' || type === 'symlink' || type === 'char' || type === 'block' || type === 'directory' || type === 'fifo';
}
