import { ImggateError } from '../../errors.js';
import type { ByteSource } from './byte-source.js';
import { BLOCK, entryType, isHeaderOnly, isZeroBlock, parsePaxRecords, parseRawHeader, type TarHeader } from './header.js';
import { decodeName } from './names.js';

export interface TarReaderOptions {
  /** Cap on PAX and GNU long-name records, which are held in memory. */
  readonly maxMetaBytes?: number;
}

/** An entry's content, readable once; what is not read is skipped when the next entry is asked for. */
export interface TarBody {
  /** Up to `max` bytes of content; the rest is skipped. */
  read(max: number): Promise<Buffer>;
  /** The content as it streams. */
  chunks(): AsyncGenerator<Buffer>;
}

export interface TarEntry {
  readonly header: TarHeader;
  readonly body: TarBody;
}

const pad = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;

/**
 * Reads a tar stream entry by entry with the semantics of Go's archive/tar (reader.go `next`), which
 * containerd applies layers with: PAX records (length-delimited, binary-safe, xattrs kept; an empty
 * value keeps the header's own field), GNU long names (applied after PAX, so they win; an empty one
 * is ignored), base-256 numbers, header-only types carrying no data. A PAX global header is returned
 * as an entry of type `global` and drops any pending PAX record or long name, as Go does; containerd
 * then treats its name like any other path (it removes what is there and creates nothing). Two zero
 * blocks, or a clean end at a header or inside the last padding, close the archive. Anything Go
 * refuses is an error: a gate that reads an archive differently from the runtime can be shown one
 * filesystem and run another.
 */
export async function* readTar(source: ByteSource, options: TarReaderOptions = {}): AsyncGenerator<TarEntry> {
  const maxMeta = options.maxMetaBytes ?? 1024 * 1024;
  let pax: Map<string, Buffer> | undefined;
  let longName = '';
  let longLink = '';
  let pendingPad = 0;
  for (;;) {
    // Go's tryReadFull: the stream may end inside the last entry's padding; that is a clean end.
    if (pendingPad > 0 && !(await skipUpTo(source, pendingPad))) return;
    pendingPad = 0;
    const offset = source.position;
    const block = await source.readExact(BLOCK);
    if (block === null) return;
    if (isZeroBlock(block)) {
      const second = await source.readExact(BLOCK);
      if (second === null || isZeroBlock(second)) return;
      throw new ImggateError('TAR_INVALID', `a zero block at offset ${offset} is followed by data`);
    }
    const raw = parseRawHeader(block, offset);
    if (raw.size < 0 && !isHeaderOnly(entryType(raw.typeflag, ''))) throw new ImggateError('TAR_INVALID', `tar header at offset ${offset} has a negative size`);
    const readMeta = async (): Promise<Buffer> => {
      if (raw.size > maxMeta) throw new ImggateError('TAR_INVALID', `an extended tar header of ${raw.size} bytes at offset ${offset} exceeds ${maxMeta}`);
      const data = (await source.readExact(raw.size)) ?? Buffer.alloc(0);
      if (data.length !== raw.size) throw new ImggateError('TAR_INVALID', `the tar stream ended inside an extended header at offset ${offset}`);
      pendingPad = pad(raw.size);
      return data;
    };
    switch (raw.typeflag) {
      case 'x':
        // Like Go, a second PAX header replaces the first rather than merging with it.
        pax = parsePaxRecords(await readMeta());
        continue;
      case 'g': {
        const records = parsePaxRecords(await readMeta());
        for (const [key, value] of records) {
          if (value.length === 0) continue;
          try {
            if (key === 'uid' || key === 'gid' || key === 'size') paxInteger(value.toString('latin1'), key);
            else if (key === 'mtime' || key === 'atime' || key === 'ctime') paxTime(value.toString('latin1'), key);
          } catch {
            // Go merges a global header's records in map order and stops at the first bad one, so the
            // name it reports (and containerd then removes) depends on chance: refuse it.
            throw new ImggateError('TAR_INVALID', `a PAX global header at offset ${offset} has an unreadable ${key} record, which makes the path Go reports for it ambiguous`);
          }
        }
        const path = records.get('path');
        const xattrs = new Map<string, Buffer>();
        for (const [key, value] of records) if (key.startsWith('SCHILY.xattr.') && value.length > 0) xattrs.set(key.slice('SCHILY.xattr.'.length), value);
        pax = undefined;
        longName = '';
        longLink = '';
        yield {
          header: { ...emptyHeader(), name: path && path.length > 0 ? decodeName(path) : raw.name, type: 'global', typeflag: 'g', xattrs, format: 'pax' },
          body: EMPTY_BODY,
        };
        continue;
      }
      case 'L':
        longName = cutNul(await readMeta());
        continue;
      case 'K':
        longLink = cutNul(await readMeta());
        continue;
      case 'S':
        throw new ImggateError('TAR_INVALID', `GNU sparse entry "${raw.name}" at offset ${offset}: sparse files are not supported in layers`);
      default:
        break;
    }
    let name = raw.name;
    let linkname = raw.linkname;
    let { uid, gid, size, mtime, uname, gname } = raw;
    const xattrs = new Map<string, Buffer>();
    if (pax) {
      for (const [key, value] of pax) {
        // Go's mergePAX: an empty value keeps the original USTAR field.
        if (value.length === 0) continue;
        const text = (): string => value.toString('latin1');
        if (key === 'path') name = decodeName(value);
        else if (key === 'linkpath') linkname = decodeName(value);
        else if (key === 'uname') uname = decodeName(value);
        else if (key === 'gname') gname = decodeName(value);
        else if (key === 'uid') uid = paxInteger(text(), key);
        else if (key === 'gid') gid = paxInteger(text(), key);
        else if (key === 'size') size = paxInteger(text(), key);
        else if (key === 'mtime') mtime = paxTime(text(), key);
        else if (key === 'atime' || key === 'ctime') paxTime(text(), key);
        else if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice('SCHILY.xattr.'.length), value);
        else if (key.startsWith('GNU.sparse.')) {
          throw new ImggateError('TAR_INVALID', `PAX sparse entry "${name}" at offset ${offset}: sparse files are not supported in layers`);
        }
      }
    }
    if (longName !== '') name = longName;
    if (longLink !== '') linkname = longLink;
    const type = entryType(raw.typeflag, name);
    const dataSize = isHeaderOnly(type) ? 0 : size;
    if (dataSize < 0) throw new ImggateError('TAR_INVALID', `tar entry "${name}" at offset ${offset} has a negative size`);
    const header: TarHeader = {
      name,
      type,
      typeflag: raw.typeflag,
      mode: raw.mode,
      uid,
      gid,
      uname,
      gname,
      size: dataSize,
      linkname,
      mtime,
      xattrs,
      format: pax ? 'pax' : raw.format,
    };
    pax = undefined;
    longName = '';
    longLink = '';

    let remaining = dataSize;
    const body: TarBody = {
      read: async (max) => {
        const take = Math.min(max, remaining);
        const data = (await source.readExact(take)) ?? Buffer.alloc(0);
        if (data.length !== take) throw new ImggateError('TAR_INVALID', `the tar stream ended inside "${name}"`);
        remaining -= take;
        return data;
      },
      chunks: async function* () {
        const n = remaining;
        remaining = 0;
        yield* source.chunks(n);
      },
    };
    yield { header, body };
    await source.skip(remaining);
    pendingPad = pad(dataSize);
  }
}

const EMPTY_BODY: TarBody = {
  read: async () => Buffer.alloc(0),
  chunks: async function* () {},
};

function emptyHeader(): TarHeader {
  return { name: '', type: 'other', typeflag: '', mode: 0, uid: 0, gid: 0, uname: '', gname: '', size: 0, linkname: '', mtime: 0, xattrs: new Map(), format: 'pax' };
}

/** Skips up to `n` bytes; false when the stream ended first. */
async function skipUpTo(source: ByteSource, n: number): Promise<boolean> {
  return (await source.skipAvailable(n)) === n;
}

/** Go's parser.parseString over a GNU long-name record: the text up to the first NUL. */
function cutNul(data: Buffer): string {
  const nul = data.indexOf(0);
  return decodeName(nul >= 0 ? data.subarray(0, nul) : data);
}

/** strconv.ParseInt(v, 10, 64), which takes a sign and leading zeros. */
function paxInteger(text: string, key: string): number {
  if (!/^[+-]?[0-9]+$/.test(text)) throw new ImggateError('TAR_INVALID', `PAX ${key} ${JSON.stringify(text.slice(0, 20))} is not an integer`);
  const value = BigInt(text);
  if (value >= 1n << 63n || value < -(1n << 63n)) throw new ImggateError('TAR_INVALID', `PAX ${key} is out of range`);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw new ImggateError('TAR_INVALID', `PAX ${key} is out of range`);
  return Number(value);
}

/** Go's parsePAXTime: seconds as a signed integer, optionally `.` and decimal digits. */
function paxTime(text: string, key: string): number {
  const match = /^([+-]?[0-9]+)(?:\.([0-9]*))?$/.exec(text);
  if (!match) throw new ImggateError('TAR_INVALID', `PAX ${key} ${JSON.stringify(text.slice(0, 20))} is not a time`);
  const seconds = BigInt(match[1] as string);
  if (seconds >= 1n << 63n || seconds < -(1n << 63n)) throw new ImggateError('TAR_INVALID', `PAX ${key} is out of range`);
  return Number(seconds);
}
