import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ImggateError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import { parseStanzas } from '../packages/parsers.js';
import { compareDpkg } from '../packages/versions/dpkg.js';
import { readBody, Transport } from '../registry/http.js';
import type { SuiteSnapshot } from './store.js';

export interface DebianFeed {
  readonly mirror: string;
  readonly securityMirror?: string | undefined;
  readonly codename: string;
  readonly components: readonly string[];
  readonly architectures: readonly string[];
  readonly keyring?: string | undefined;
}

/** The suites a release is judged against, and the role each plays. */
export function suitesOf(feed: DebianFeed): Array<{ suite: string; mirror: string; role: 'release' | 'updates' | 'security' }> {
  return [
    { suite: feed.codename, mirror: feed.mirror, role: 'release' },
    { suite: `${feed.codename}-updates`, mirror: feed.mirror, role: 'updates' },
    { suite: `${feed.codename}-security`, mirror: feed.securityMirror ?? feed.mirror, role: 'security' },
  ];
}

const MAX_INDEX_BYTES = 512 * 1024 * 1024;

async function get(transport: Transport, url: URL, max: number): Promise<Buffer | undefined> {
  const response = await transport.send({ method: 'GET', url });
  if (response.status === 404) {
    response.body.resume();
    return undefined;
  }
  if (response.status !== 200) {
    response.body.resume();
    throw new ImggateError('HTTP_ERROR', `GET ${url.href}: HTTP ${response.status}`);
  }
  return readBody(response.body, max, url.href);
}

/** Checks a clearsigned InRelease with gpgv against `keyring` and returns the text that was signed. */
export async function verifyClearsigned(data: Buffer, keyring: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-gpgv-'));
  try {
    const file = path.join(dir, 'InRelease');
    await writeFile(file, data);
    return await new Promise<string>((resolve, reject) => {
      execFile('gpgv', ['--keyring', keyring, '--output', '-', file], { maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' }, (err, stdout, stderr) => {
        if (err) reject(new ImggateError('AUTH_FAILED', `InRelease signature does not verify against ${keyring}: ${stderr.toString().trim().split('\n').pop() ?? err.message}`, { cause: err }));
        else resolve(stdout.toString('utf8'));
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The signed text of a clearsigned message, without verifying it (dash-escapes undone). */
function clearsignedBody(text: string): string {
  const m = /-----BEGIN PGP SIGNED MESSAGE-----\r?\n(?:[^\n]+\r?\n)*\r?\n([\s\S]*?)\r?\n-----BEGIN PGP SIGNATURE-----/.exec(text);
  if (!m?.[1]) return text;
  return m[1].split('\n').map((l) => (l.startsWith('- ') ? l.slice(2) : l)).join('\n');
}

/** `SHA256:` lines of a Release file: path → hash and size. */
function releaseHashes(release: string): Map<string, { sha256: string; size: number }> {
  const fields = parseStanzas(release)[0];
  const out = new Map<string, { sha256: string; size: number }>();
  for (const line of (fields?.get('SHA256') ?? '').split('\n')) {
    const [sha256, size, file] = line.trim().split(/\s+/);
    if (sha256 && size && file && /^[a-f0-9]{64}$/.test(sha256)) out.set(file, { sha256, size: Number(size) });
  }
  return out;
}

/**
 * Fetches one suite of a Debian-style archive: InRelease (verified with gpgv when a keyring is
 * configured), then each component's Packages index for each architecture, every one checked against
 * the SHA256 the (verified) Release lists. Returns the highest version of each binary package.
 */
export async function fetchSuite(feed: DebianFeed, mirror: string, suite: string, now: Date = new Date()): Promise<SuiteSnapshot> {
  const transport = new Transport({ timeoutMs: 120_000, userAgent: 'imggate-feeds' });
  try {
    const base = new URL(mirror.endsWith('/') ? mirror : `${mirror}/`);
    const inRelease = await get(transport, new URL(`dists/${suite}/InRelease`, base), 64 * 1024 * 1024);
    if (!inRelease) throw new ImggateError('NOT_FOUND', `${base.href}dists/${suite}/InRelease does not exist`);
    const release = feed.keyring ? await verifyClearsigned(inRelease, feed.keyring) : clearsignedBody(inRelease.toString('utf8'));
    const hashes = releaseHashes(release);
    const packages: Record<string, string> = {};
    for (const component of feed.components) {
      for (const arch of feed.architectures) {
        const dir = `${component}/binary-${arch}`;
        const candidates = [`${dir}/Packages.gz`, `${dir}/Packages`].filter((f) => hashes.has(f));
        const name = candidates[0];
        if (!name) throw new ImggateError('NOT_FOUND', `${suite}'s Release lists no ${dir}/Packages(.gz)`);
        const expected = hashes.get(name) as { sha256: string; size: number };
        const data = await get(transport, new URL(`dists/${suite}/${name}`, base), MAX_INDEX_BYTES);
        if (!data) throw new ImggateError('NOT_FOUND', `${suite}/${name} is listed in Release but missing`);
        const actual = digestOf(data);
        if (actual !== `sha256:${expected.sha256}` || data.length !== expected.size) {
          throw new ImggateError('DIGEST_MISMATCH', `${suite}/${name} hashes to ${actual}, Release says sha256:${expected.sha256}`);
        }
        const text = (name.endsWith('.gz') ? gunzipSync(data, { maxOutputLength: MAX_INDEX_BYTES }) : data).toString('utf8');
        for (const stanza of parseStanzas(text)) {
          const pkg = stanza.get('Package');
          const version = stanza.get('Version');
          if (!pkg || !version) continue;
          const have = packages[pkg];
          try {
            if (have === undefined || compareDpkg(version, have) > 0) packages[pkg] = version;
          } catch {
            // An unreadable version in the index is skipped rather than trusted.
          }
        }
      }
    }
    const date = parseStanzas(release)[0]?.get('Date');
    return {
      kind: 'debian-suite',
      mirror: base.href,
      suite,
      digest: digestOf(inRelease),
      fetchedAt: now.toISOString(),
      ...(date ? { date } : {}),
      verified: feed.keyring !== undefined,
      packages,
    };
  } finally {
    transport.close();
  }
}
