import type initSqlJs from 'sql.js';
import type { ParsedPackage } from './parsers.js';

const TAG = { name: 1000, version: 1001, release: 1002, epoch: 1003, arch: 1022, sourceRpm: 1044 } as const;
const TYPE_INT32 = 4;
const TYPE_STRING = 6;

/** Reads the tags imggate needs from an rpm header blob (big-endian index entries, then the data store). */
export function parseRpmHeader(blob: Uint8Array): ParsedPackage | undefined {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.length < 8) return undefined;
  const il = buf.readUInt32BE(0);
  const dl = buf.readUInt32BE(4);
  const dataStart = 8 + il * 16;
  if (il > 100_000 || dataStart + dl > buf.length) return undefined;
  const values = new Map<number, string | number>();
  for (let i = 0; i < il; i++) {
    const at = 8 + i * 16;
    const tag = buf.readUInt32BE(at);
    const type = buf.readUInt32BE(at + 4);
    const offset = buf.readUInt32BE(at + 8);
    if (!Object.values(TAG).includes(tag as never) || offset >= dl) continue;
    const start = dataStart + offset;
    if (type === TYPE_STRING) {
      const end = buf.indexOf(0, start);
      if (end > start) values.set(tag, buf.subarray(start, end).toString('utf8'));
    } else if (type === TYPE_INT32 && start + 4 <= dataStart + dl) {
      values.set(tag, buf.readUInt32BE(start));
    }
  }
  const name = values.get(TAG.name);
  const version = values.get(TAG.version);
  const release = values.get(TAG.release);
  if (typeof name !== 'string' || typeof version !== 'string') return undefined;
  const epoch = values.get(TAG.epoch);
  const evr = `${typeof epoch === 'number' && epoch > 0 ? `${epoch}:` : ''}${version}${typeof release === 'string' ? `-${release}` : ''}`;
  const arch = values.get(TAG.arch);
  const srpm = values.get(TAG.sourceRpm);
  const source = typeof srpm === 'string' ? /^(.+)-[^-]+-[^-]+\.src\.rpm$/.exec(srpm)?.[1] : undefined;
  return { name, version: evr, ...(typeof arch === 'string' ? { arch } : {}), ...(source ? { source } : {}) };
}

let sqlite: ReturnType<typeof initSqlJs> | undefined;

/**
 * Installed packages from an rpm SQLite database (`rpmdb.sqlite`, Fedora 33+, RHEL/UBI 9), opened in
 * memory with sql.js (SQLite compiled to WebAssembly: nothing native to build, the same on every Node).
 */
export async function parseRpmSqlite(bytes: Buffer): Promise<ParsedPackage[]> {
  // sql.js loads with the first rpm database: an image without one never pays for it.
  const SQL = await (sqlite ??= import('sql.js').then((m) => m.default()));
  const db = new SQL.Database(bytes);
  try {
    const result = db.exec('SELECT blob FROM Packages');
    const out: ParsedPackage[] = [];
    for (const row of result[0]?.values ?? []) {
      const blob = row[0];
      if (blob instanceof Uint8Array) {
        const pkg = parseRpmHeader(blob);
        if (pkg) out.push(pkg);
      }
    }
    return out;
  } finally {
    db.close();
  }
}
