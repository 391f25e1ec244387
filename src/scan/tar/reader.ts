import { ImggateError } from '../../errors.js';
import type { ByteSource } from './byte-source.js';
import { BLOCK, entryType, isHeaderOnly, isZeroBlock, parsePaxRecords, parseRawHeader, type TarHeader } from './header.js';

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
 * Reads a tar stream entry by entry with the semantics of Go's archive/tar, which the container
 * runtimes use to apply layers: PAX records (length-delimited, binary-safe, xattrs kept), GNU long
 * names, base-256 numbers, header-only types carrying no data, global PAX headers ignored, and two
 * zero blocks (or a clean end at a block boundary) closing the archive. Anything else is an error:
 * a gate that reads an archive differently from the runtime can be shown one filesystem and run another.
 */
export async function* readTar(source: ByteSource, options: TarReaderOptions = {}): AsyncGenerator<TarEntry> {
  const maxMeta = options.maxMetaBytes ?? 1024 * 1024;
  let pax: Map<string, Buffer> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const offset = source.position;
    const block = await source.readExact(BLOCK);
    if (block === null) {
      if (pax || longName !== undefined || longLink !== undefined) throw new ImggateError('TAR_INVALID', 'the tar stream ended after an extended header');
      return;
    }
    if (isZeroBlock(block)) {
      const second = await source.readExact(BLOCK);
      if (second === null || isZeroBlock(second)) return;
      throw new ImggateError('TAR_INVALID', `a zero block at offset ${offset} is followed by data`);
    }
    const raw = parseRawHeader(block, offset);
    const readMeta = async (): Promise<Buffer> => {
      if (raw.size > maxMeta) throw new ImggateError('TAR_INVALID', `an extended tar header of ${raw.size} bytes at offset ${offset} exceeds ${maxMeta}`);
      const data = (await source.readExact(raw.size)) ?? Buffer.alloc(0);
      await source.skip(pad(raw.size));
      return data;
    };
    switch (raw.typeflag) {
      case 'x': {
        const records = parsePaxRecords(await readMeta());
        // Like Go, a second PAX header replaces the first rather than merging with it.
        pax = records;
        continue;
      }
      case 'g':
        // Go returns global headers as entries of their own, and runtimes ignore them; so does this.
        await readMeta();
        continue;
      case 'L':
        longName = trimNul(await readMeta());
        continue;
      case 'K':
        longLink = trimNul(await readMeta());
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
        const text = value.toString('utf8');
        if (key === 'path') name = text;
        else if (key === 'linkpath') linkname = text;
        else if (key === 'uname') uname = text;
        else if (key === 'gname') gname = text;
        else if (key === 'uid') uid = paxInteger(text, key);
        else if (key === 'gid') gid = paxInteger(text, key);
        else if (key === 'size') size = paxInteger(text, key);
        else if (key === 'mtime') mtime = Math.floor(Number(text));
        else if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice('SCHILY.xattr.'.length), value);
        else if (key.startsWith('GNU.sparse.')) {
          throw new ImggateError('TAR_INVALID', `PAX sparse entry "${name}" at offset ${offset}: sparse files are not supported in layers`);
        }
      }
    }
    // Go applies GNU long names after PAX records, so they win; the order matters for hostile archives.
    if (longName !== undefined) name = longName;
    if (longLink !== undefined) linkname = longLink;
    const type = entryType(raw.typeflag, name);
    const dataSize = isHeaderOnly(type) ? 0 : size;
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
    longName = undefined;
    longLink = undefined;

    let remaining = dataSize;
    const body: TarBody = {
      read: async (max) => {
        const take = Math.min(max, remaining);
        const data = (await source.readExact(take)) ?? Buffer.alloc(0);
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
    await source.skip(remaining + pad(dataSize));
  }
}

function trimNul(data: Buffer): string {
  const nul = data.indexOf(0);
  return (nul >= 0 ? data.subarray(0, nul) : data).toString('utf8');
}

function paxInteger(text: string, key: string): number {
  if (!/^[0-9]+$/.test(text)) throw new ImggateError('TAR_INVALID', `PAX ${key} "${text.slice(0, 20)}" is not a non-negative integer`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new ImggateError('TAR_INVALID', `PAX ${key} is out of range`);
  return value;
}
