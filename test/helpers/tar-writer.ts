import { gzipSync } from 'node:zlib';

/** A layer entry for the test tar writer. Writes what real tools write, and the hostile cases they don't. */
export interface TestEntry {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo';
  content?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  /** PAX records to emit before the entry (binary values allowed). */
  pax?: Record<string, Buffer | string>;
  /** Use a GNU 'L' long-name record for the name. */
  gnuLongName?: boolean;
  /** Override the size field (header-only types with a bogus size). */
  sizeField?: number;
  /** Corrupt the checksum. */
  badChecksum?: boolean;
}

const TYPEFLAG = { file: '0', dir: '5', symlink: '2', hardlink: '1', fifo: '6' } as const;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(fields: { name: string; mode: number; uid: number; gid: number; size: number; typeflag: string; linkname: string; gnu?: boolean }, badChecksum = false): Buffer {
  const block = Buffer.alloc(512);
  block.write(fields.name.slice(0, 100), 0, 'utf8');
  block.write(octal(fields.mode, 8), 100, 'latin1');
  block.write(octal(fields.uid, 8), 108, 'latin1');
  block.write(octal(fields.gid, 8), 116, 'latin1');
  block.write(octal(fields.size, 12), 124, 'latin1');
  block.write(octal(1700000000, 12), 136, 'latin1');
  block.write('        ', 148, 'latin1');
  block.write(fields.typeflag, 156, 'latin1');
  block.write(fields.linkname.slice(0, 100), 157, 'utf8');
  if (fields.gnu) block.write('ustar  \0', 257, 'latin1');
  else block.write('ustar\u000000', 257, 'latin1');
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
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = e.content === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content);
    const size = type === 'file' ? content.length : 0;
    if (e.pax) {
      const data = Buffer.concat(Object.entries(e.pax).map(([k, v]) => paxRecord(k, Buffer.isBuffer(v) ? v : Buffer.from(v))));
      parts.push(header({ name: 'PaxHeader', mode: 0o644, uid: 0, gid: 0, size: data.length, typeflag: 'x', linkname: '' }), ...padded(data));
    }
    if (e.gnuLongName) {
      const data = Buffer.from(`${e.name}\0`);
      parts.push(header({ name: '././@LongLink', mode: 0o644, uid: 0, gid: 0, size: data.length, typeflag: 'L', linkname: '', gnu: true }), ...padded(data));
    }
    parts.push(
      header(
        {
          name: e.name,
          mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
          uid: e.uid ?? 0,
          gid: e.gid ?? 0,
          size: e.sizeField ?? size,
          typeflag: TYPEFLAG[type],
          linkname: e.linkname ?? '',
          gnu: e.gnuLongName ?? false,
        },
        e.badChecksum,
      ),
    );
    if (size) parts.push(...padded(content));
  }
  if (trailer) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function makeGzipTar(entries: readonly TestEntry[]): Buffer {
  return gzipSync(makeTar(entries));
}
