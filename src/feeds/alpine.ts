import { createPublicKey, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { ImggateError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import { parseApkInstalled } from '../packages/parsers.js';
import { compareApk } from '../packages/versions/apk.js';
import { readBody, Transport } from '../registry/http.js';
import { ByteReader } from '../scan/tar/byte-reader.js';
import { readTar } from '../scan/tar/reader.js';
import type { SuiteSnapshot } from './store.js';

export interface AlpineFeed {
  readonly mirror: string;
  /** `v3.19`, as the repository path names it. */
  readonly branch: string;
  readonly repositories: readonly string[];
  readonly architectures: readonly string[];
  /** A directory of the distribution's signing keys (`/etc/apk/keys` style, `<name>.rsa.pub`); without it nothing is verified. */
  readonly keys?: string | undefined;
}

/** Where the first gzip member of `data` ends (RFC 1952 header, raw deflate body, 8-byte trailer). */
export function firstGzipMemberLength(data: Buffer): number {
  if (data[0] !== 0x1f || data[1] !== 0x8b || data[2] !== 8) throw new ImggateError('MANIFEST_INVALID', 'APKINDEX is not gzip');
  const flags = data[3] ?? 0;
  let at = 10;
  if (flags & 4) at += 2 + data.readUInt16LE(at);
  if (flags & 8) at = data.indexOf(0, at) + 1;
  if (flags & 16) at = data.indexOf(0, at) + 1;
  if (flags & 2) at += 2;
  const { engine } = inflateRawSync(data.subarray(at), { info: true }) as unknown as { engine: { bytesWritten: number } };
  return at + engine.bytesWritten + 8;
}

async function tarFiles(tar: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for await (const { header, body } of readTar(new ByteReader(Readable.from([tar])))) {
    if (header.type === 'file') files.set(header.name, await body.read(header.size));
  }
  return files;
}

/**
 * Reads an `APKINDEX.tar.gz`: a signature gzip member (`.SIGN.RSA[256].<key>.pub`, an RSA signature
 * over the second member's compressed bytes) followed by the index member. With `keys`, the signature
 * must verify against the named key from that directory; the index text is parsed either way.
 */
export async function parseApkIndex(data: Buffer, keysDir: string | undefined): Promise<{ packages: Record<string, string>; verified: boolean }> {
  const split = firstGzipMemberLength(data);
  const signatureTar = await tarFiles(gunzipSync(data.subarray(0, split)));
  const indexMember = data.subarray(split);
  let verified = false;
  if (keysDir) {
    const entry = [...signatureTar].find(([name]) => /^\.SIGN\.RSA(256)?\./.test(name));
    if (!entry) throw new ImggateError('AUTH_FAILED', 'APKINDEX carries no signature but keys are configured');
    const [name, signature] = entry;
    const m = /^\.SIGN\.(RSA256|RSA)\.(.+)$/.exec(name);
    const keyName = m?.[2] ?? '';
    if (!/^[A-Za-z0-9@._+-]+$/.test(keyName)) throw new ImggateError('AUTH_FAILED', `APKINDEX names an odd key "${keyName}"`);
    let pem: string;
    try {
      pem = await readFile(path.join(keysDir, keyName), 'utf8');
    } catch (err) {
      throw new ImggateError('AUTH_FAILED', `APKINDEX is signed by ${keyName}, which is not in ${keysDir}`, { cause: err });
    }
    const ok = verify(m?.[1] === 'RSA256' ? 'sha256' : 'sha1', indexMember, createPublicKey(pem), signature);
    if (!ok) throw new ImggateError('AUTH_FAILED', `APKINDEX signature does not verify against ${keyName}`);
    verified = true;
  }
  const index = (await tarFiles(gunzipSync(indexMember, { maxOutputLength: 512 * 1024 * 1024 }))).get('APKINDEX');
  if (!index) throw new ImggateError('MANIFEST_INVALID', 'APKINDEX.tar.gz holds no APKINDEX');
  const packages: Record<string, string> = {};
  for (const p of parseApkInstalled(index.toString('utf8'))) {
    const have = packages[p.name];
    try {
      if (have === undefined || compareApk(p.version, have) > 0) packages[p.name] = p.version;
    } catch {
      // A version apk's ordering cannot read is skipped.
    }
  }
  return { packages, verified };
}

/** Fetches each repository and architecture of an Alpine branch into one snapshot. */
export async function fetchAlpine(feed: AlpineFeed, now: Date = new Date()): Promise<SuiteSnapshot> {
  const transport = new Transport({ timeoutMs: 120_000, userAgent: 'imggate-feeds' });
  const base = new URL(feed.mirror.endsWith('/') ? feed.mirror : `${feed.mirror}/`);
  const packages: Record<string, string> = {};
  const digests: string[] = [];
  let verified = feed.keys !== undefined;
  try {
    for (const repo of feed.repositories) {
      for (const arch of feed.architectures) {
        const url = new URL(`${feed.branch}/${repo}/${arch}/APKINDEX.tar.gz`, base);
        const response = await transport.send({ method: 'GET', url });
        if (response.status !== 200) {
          response.body.resume();
          throw new ImggateError(response.status === 404 ? 'NOT_FOUND' : 'HTTP_ERROR', `GET ${url.href}: HTTP ${response.status}`);
        }
        const data = await readBody(response.body, 256 * 1024 * 1024, url.href);
        digests.push(digestOf(data));
        const parsed = await parseApkIndex(data, feed.keys);
        verified &&= parsed.verified;
        for (const [name, version] of Object.entries(parsed.packages)) {
          const have = packages[name];
          if (have === undefined || compareApk(version, have) > 0) packages[name] = version;
        }
      }
    }
  } finally {
    transport.close();
  }
  return { kind: 'alpine-branch', mirror: base.href, suite: feed.branch, digest: digestOf(Buffer.from(digests.join('\n'))), fetchedAt: now.toISOString(), verified, packages };
}
