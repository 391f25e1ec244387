import { gzipSync } from 'node:zlib';

/** A layer entry for the test tar writer. Writes what real tools write, and the hostile cases they don't. */
export interface TestEntry {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block' | 'global';
  content?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  /** PAX records to emit before the entry (binary values allowed). */
  pax?: Record<string, Buffer | string>;
  /** PAX records in this order, repeats allowed (written after `pax`'s, in the same header). */
  paxRecords?: ReadonlyArray<readonly [string, Buffer | string]>;
  /** A PAX header written before the entry's own one: Go's reader drops it for the later one. */
  paxBefore?: Record<string, Buffer | string>;
  /** Use a GNU 'K' long-link record for the link name. */
  gnuLongLink?: boolean;
  /** Use a GNU 'L' long-name record for the name. */
  gnuLongName?: boolean;
  /** Override the size field (header-only types with a bogus size). */
  sizeField?: number;
  /** Corrupt the checksum. */
  badChecksum?: boolean;
  /** The name's raw bytes (names that are not UTF-8); used instead of `name` in the header. */
  nameBytes?: Buffer;
  /** Split the name into the ustar `prefix` field (at the last `/` that fits) and the name field. */
  ustarPrefix?: boolean;
  /** The magic/version written (default ustar "00"): `star` has the shorter prefix and atime/ctime. */
  magic?: 'ustar' | 'gnu' | 'v7' | 'star';
  /** Overrides the two version bytes after the magic (odd versions). */
  version?: string;
  /** Emit a PAX global (`g`) header with these records before the entry. */
  globalPax?: Record<string, Buffer | string>;
  /** Device numbers for `char` entries. */
  devmajor?: number;
  devminor?: number;
}

const TYPEFLAG = { file: '0', dir: '5', symlink: '2', hardlink: '1', fifo: '6', char: '3', block: '4', global: 'g' } as const;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

interface HeaderFields {
  name: string | Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  typeflag: string;
  linkname: string;
  gnu?: boolean;
  prefix?: Buffer | undefined;
  magic?: TestEntry['magic'];
  version?: string | undefined;
  devmajor?: number | undefined;
  devminor?: number | undefined;
}

/** Octal when it fits the field, else GNU base-256 (what Go writes for uids ≥ 2^21). */
function numeric(block: Buffer, value: number, offset: number, width: number): void {
  if (value >= 0 && value < 8 ** (width - 1)) {
    block.write(octal(value, width), offset, 'latin1');
    return;
  }
  let v = BigInt(value);
  for (let i = width - 1; i > 0; i--) {
    block[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[offset] = 0x80;
}

function header(fields: HeaderFields, badChecksum = false): Buffer {
  const block = Buffer.alloc(512);
  const name = Buffer.isBuffer(fields.name) ? fields.name : Buffer.from(fields.name, 'utf8');
  name.copy(block, 0, 0, Math.min(100, name.length));
  block.write(octal(fields.mode, 8), 100, 'latin1');
  numeric(block, fields.uid, 108, 8);
  numeric(block, fields.gid, 116, 8);
  block.write(octal(fields.size, 12), 124, 'latin1');
  block.write(octal(1700000000, 12), 136, 'latin1');
  block.write('        ', 148, 'latin1');
  block.write(fields.typeflag, 156, 'latin1');
  block.write(fields.linkname.slice(0, 100), 157, 'utf8');
  const magic = fields.magic ?? (fields.gnu ? 'gnu' : 'ustar');
  if (magic === 'gnu') block.write('ustar  \0', 257, 'latin1');
  else if (magic !== 'v7') {
    block.write('ustar\u0000', 257, 'latin1');
    block.write(fields.version ?? '00', 263, 'latin1');
  }
  if (fields.devmajor !== undefined) block.write(octal(fields.devmajor, 8), 329, 'latin1');
  if (fields.devminor !== undefined) block.write(octal(fields.devminor, 8), 337, 'latin1');
  if (fields.prefix) fields.prefix.copy(block, 345, 0, Math.min(magic === 'star' ? 131 : 155, fields.prefix.length));
  if (magic === 'star') {
    // STAR: prefix is 131 bytes, then atime and ctime (both octal).
    block.write(octal(1700000000, 12), 476, 'latin1');
    block.write(octal(1700000000, 12), 488, 'latin1');
  }
  let sum = 0;
  for (const b of block) sum += b;
  if (badChecksum) sum += 1;
  block.write(octal(sum, 7) + ' ', 148, 'latin1');
  return block;
}

function padded(data: Buffer): Buffer[] {
  const rem = data.length % 512;
  return rem ? [data, Buffer.alloc(512 - rem)] : [data];
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** Builds an uncompressed tar in memory. */
export function makeTar(entries: readonly TestEntry[], { trailer = true }: { trailer?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  const records = (r: Record<string, Buffer | string>): Buffer => Buffer.concat(Object.entries(r).map(([k, v]) => paxRecord(k, Buffer.isBuffer(v) ? v : Buffer.from(v))));
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = e.content === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content);
    const size = type === 'file' ? content.length : 0;
    if (e.globalPax) {
      const data = records(e.globalPax);
      parts.push(header({ name: 'pax_global_header', mode: 0o644, uid: 0, gid: 0, size: data.length, typeflag: 'g', linkname: '' }), ...padded(data));
    }
    if (e.paxBefore) {
      const data = records(e.paxBefore);
      parts.push(header({ name: 'PaxHeader', mode: 0o644, uid: 0, gid: 0, size: data.length, typeflag: 'x', linkname: '' }), ...padded(data));
    }
    if ((e.pax || e.paxRecords) && type !== 'global') {
      const data = Buffer.concat([records(e.pax ?? {}), ...(e.paxRecords ?? []).map(([k, v]) => paxRecord(k, Buffer.isBuffer(v) ? v : Buffer.from(v)))]);
      parts.push(header({ name: 'PaxHeader', mode: 0o644, uid: 0, gid: 0, size: data.length, typeflag: 'x', linkname: '' }), ...padded(data));
    }
    if (e.gnuLongLink) {
      const data = Buffer.from(`${e.linkname ?? ''}\0`);
      parts.push(header({ name: '././@LongLink', mode: 0o644, uid: 0, gid: 0, size: data.length, typeflag: 'K', linkname: '', gnu: true }), ...padded(data));
    }
    if (e.gnuLongName) {
      const data = Buffer.from(`${e.name}\0`);
      parts.push(header({ name: '././@LongLink', mode: 0o644, uid: 0, gid: 0, size: data.length, typeflag: 'L', linkname: '', gnu: true }), ...padded(data));
    }
    let name: string | Buffer = e.nameBytes ?? e.name;
    let prefix: Buffer | undefined;
    if (e.ustarPrefix) {
      const raw = Buffer.isBuffer(name) ? name : Buffer.from(name);
      const cut = raw.lastIndexOf(0x2f, raw.length - 2);
      if (cut > 0) {
        prefix = raw.subarray(0, cut);
        name = raw.subarray(cut + 1);
      }
    }
    const data = type === 'global' ? records(e.pax ?? {}) : undefined;
    parts.push(
      header(
        {
          name,
          mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
          uid: e.uid ?? 0,
          gid: e.gid ?? 0,
          size: e.sizeField ?? (data ? data.length : size),
          typeflag: TYPEFLAG[type],
          linkname: e.linkname ?? '',
          gnu: e.gnuLongName ?? false,
          prefix,
          magic: e.magic,
          version: e.version,
          devmajor: e.devmajor ?? (type === 'char' || type === 'block' ? 0 : undefined),
          devminor: e.devminor ?? (type === 'char' || type === 'block' ? 0 : undefined),
        },
        e.badChecksum,
      ),
    );
    if (data && data.length) parts.push(...padded(data));
    if (size) parts.push(...padded(content));
  }
  if (trailer) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function makeGzipTar(entries: readonly TestEntry[]): Buffer {
  return gzipSync(makeTar(entries));
}
