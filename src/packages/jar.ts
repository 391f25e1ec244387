import { inflateRawSync } from 'node:zlib';
import type { ParsedPackage } from './parsers.js';

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_MEMBER_BYTES = 64 * 1024 * 1024;

interface Member {
  readonly name: string;
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localOffset: number;
}

/** The central directory of a zip held in memory; empty when the data is not a zip imggate can read. */
function members(zip: Buffer): Member[] {
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
  const out: Member[] = [];
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

function extract(zip: Buffer, m: Member): Buffer | undefined {
  if (m.localOffset + 30 > zip.length || zip.readUInt32LE(m.localOffset) !== LOCAL) return undefined;
  if (m.size > MAX_MEMBER_BYTES || m.compressedSize === 0xffffffff) return undefined;
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

function pomProperties(text: string): ParsedPackage | undefined {
  const get = (key: string): string | undefined => new RegExp(`^${key}\\s*[=:]\\s*(.+?)\\s*$`, 'm').exec(text)?.[1];
  const group = get('groupId');
  const artifact = get('artifactId');
  const version = get('version');
  return group && artifact && version ? { name: `${group}:${artifact}`, version } : undefined;
}

/**
 * Maven coordinates in a Java archive: every `META-INF/maven/<group>/<artifact>/pom.properties`, and
 * those of the archives nested in it (`BOOT-INF/lib/*.jar`, `WEB-INF/lib/*.jar`), one level deep.
 * Each result names where it was found (`outer.jar!/BOOT-INF/lib/inner.jar`).
 */
export function jarPackages(zip: Buffer, depth = 1): Array<ParsedPackage & { readonly inner?: string }> {
  const out: Array<ParsedPackage & { inner?: string }> = [];
  for (const m of members(zip)) {
    if (/^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/.test(m.name)) {
      const data = extract(zip, m);
      const pkg = data ? pomProperties(data.toString('utf8')) : undefined;
      if (pkg) out.push(pkg);
    } else if (depth > 0 && /\.(jar|war)$/.test(m.name)) {
      const inner = extract(zip, m);
      if (inner) for (const pkg of jarPackages(inner, depth - 1)) out.push({ ...pkg, inner: pkg.inner ? `${m.name}!/${pkg.inner}` : m.name });
    }
  }
  return out;
}
