import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ImggateError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import { parseStanzas } from '../packages/parsers.js';
import { compareDpkg } from '../packages/versions/dpkg.js';
import { readBody, Transport } from '../registry/http.js';
import { decompressIndex, INDEX_SUFFIXES } from './decompress.js';
import { checkFreshness, parseRelease, type ReleaseInfo } from './release.js';
import type { SuiteSnapshot } from './store.js';

export interface DebianFeed {
  readonly mirror: string;
  readonly securityMirror?: string | undefined;
  readonly codename: string;
  readonly components: readonly string[];
  readonly architectures: readonly string[];
  /** OpenPGP keyring file(s) InRelease must verify against (gpgv); without any nothing is verified. */
  readonly keyring?: string | readonly string[] | undefined;
  /** False when no `-security` suite is known for this release (the host's apt sources list none). */
  readonly withSecurity?: boolean;
}

/** The suites a release is judged against, and the role each plays. */
export function suitesOf(feed: DebianFeed): Array<{ suite: string; mirror: string; role: 'release' | 'updates' | 'security' }> {
  return [
    { suite: feed.codename, mirror: feed.mirror, role: 'release' as const },
    { suite: `${feed.codename}-updates`, mirror: feed.mirror, role: 'updates' as const },
    ...(feed.withSecurity === false ? [] : [{ suite: `${feed.codename}-security`, mirror: feed.securityMirror ?? feed.mirror, role: 'security' as const }]),
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
export async function verifyClearsigned(data: Buffer, keyring: string | readonly string[]): Promise<string> {
  const keyrings = typeof keyring === 'string' ? [keyring] : [...keyring];
  const { execFile } = await import('node:child_process');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-gpgv-'));
  try {
    const file = path.join(dir, 'InRelease');
    await writeFile(file, data);
    return await new Promise<string>((resolve, reject) => {
      execFile('gpgv', [...keyrings.flatMap((k) => ['--keyring', k]), '--output', '-', file], { maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' }, (err, stdout, stderr) => {
        if (err) reject(new ImggateError('AUTH_FAILED', `InRelease signature does not verify against ${keyrings.join(', ')}: ${stderr.toString().trim().split('\n').pop() ?? err.message}`, { cause: err }));
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

/** Where one index was fetched from and what it hashed to (the Release's own SHA256). */
interface FetchedIndex {
  readonly path: string;
  readonly sha256: string;
  readonly data: Buffer;
}

/**
 * Fetches one index of a suite, in the first form (`.xz`, `.gz`, plain) that the Release lists and the
 * mirror serves — the real archive lists the uncompressed `Packages` of `-security` but serves only
 * `Packages.xz`. With `Acquire-By-Hash`, the immutable `by-hash/SHA256/<hex>` copy is tried first, so
 * an index replaced between the InRelease and this fetch is still the one the InRelease names.
 * A body that does not match the Release is an integrity failure: never retried in another form.
 */
async function fetchIndex(transport: Transport, base: URL, suite: string, stem: string, release: ReleaseInfo): Promise<FetchedIndex> {
  const listed = INDEX_SUFFIXES.map((suffix) => `${stem}${suffix}`).filter((name) => release.files.has(name));
  if (!listed.length) throw new ImggateError('NOT_FOUND', `${suite}'s Release lists no ${stem} (.xz, .gz or plain)`);
  for (const name of listed) {
    const expected = release.files.get(name) as { sha256: string; size: number };
    const dir = name.slice(0, name.lastIndexOf('/') + 1);
    const urls = [
      ...(release.byHash ? [new URL(`dists/${suite}/${dir}by-hash/SHA256/${expected.sha256}`, base)] : []),
      new URL(`dists/${suite}/${name}`, base),
    ];
    for (const url of urls) {
      const data = await get(transport, url, MAX_INDEX_BYTES);
      if (!data) continue;
      const actual = digestOf(data);
      if (actual !== `sha256:${expected.sha256}` || data.length !== expected.size) {
        throw new ImggateError('DIGEST_MISMATCH', `${suite}/${name} hashes to ${actual} (${data.length} bytes), Release says sha256:${expected.sha256} (${expected.size} bytes)`);
      }
      return { path: name, sha256: expected.sha256, data };
    }
  }
  throw new ImggateError('NOT_FOUND', `${suite}: the Release lists ${listed.join(', ')}, but the mirror serves none of them (an index that vanished after the InRelease was fetched, or a partial mirror)`);
}

export interface FetchSuiteOptions {
  readonly now?: Date;
  /** The snapshot already held: a Release older than it is refused as a replay. */
  readonly previous?: SuiteSnapshot | undefined;
  /** The distribution the archive must say it is (`Origin:`), when the mirror was not named by the operator. */
  readonly origin?: string | undefined;
  /** Given each verified file as fetched (`InRelease`, `main/binary-amd64/Packages.xz`), to keep for export. */
  readonly keep?: ((file: string, data: Buffer) => void) | undefined;
}

/**
 * Fetches one suite of a Debian-style archive: InRelease (verified with gpgv when a keyring is
 * configured; expired, future-dated or replayed ones refused), then each component's Packages index
 * for each architecture, every one checked against the SHA256 the (verified) Release lists. Returns
 * the highest version of each binary package.
 */
export async function fetchSuite(feed: DebianFeed, mirror: string, suite: string, options: FetchSuiteOptions | Date = {}): Promise<SuiteSnapshot> {
  const { now = new Date(), previous, origin, keep } = options instanceof Date ? { now: options } : options;
  const transport = new Transport({ timeoutMs: 120_000, userAgent: 'imggate-feeds' });
  try {
    const base = new URL(mirror.endsWith('/') ? mirror : `${mirror}/`);
    const inRelease = await get(transport, new URL(`dists/${suite}/InRelease`, base), 64 * 1024 * 1024);
    if (!inRelease) throw new ImggateError('NOT_FOUND', `${base.href}dists/${suite}/InRelease does not exist`);
    const release = parseRelease(feed.keyring ? await verifyClearsigned(inRelease, feed.keyring) : clearsignedBody(inRelease.toString('utf8')));
    checkFreshness(release, `${base.href}dists/${suite}`, now, previous);
    if (origin !== undefined && release.origin?.toLowerCase() !== origin.toLowerCase()) {
      throw new ImggateError('NOT_FOUND', `${base.href}dists/${suite} is from "${release.origin ?? 'no origin'}", not ${origin}`);
    }
    keep?.('InRelease', inRelease);
    const packages: Record<string, string> = {};
    const indexes: Array<{ path: string; sha256: string }> = [];
    for (const component of feed.components) {
      for (const arch of feed.architectures) {
        const index = await fetchIndex(transport, base, suite, `${component}/binary-${arch}/Packages`, release);
        indexes.push({ path: index.path, sha256: index.sha256 });
        keep?.(index.path, index.data);
        const text = (await decompressIndex(index.path, index.data, MAX_INDEX_BYTES)).toString('utf8');
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
    return {
      kind: 'debian-suite',
      mirror: base.href,
      suite,
      digest: digestOf(inRelease),
      fetchedAt: now.toISOString(),
      ...(release.date ? { date: release.date } : {}),
      ...(release.validUntil ? { validUntil: release.validUntil } : {}),
      ...(release.origin ? { origin: release.origin } : {}),
      architectures: [...feed.architectures],
      indexes,
      verified: feed.keyring !== undefined,
      packages,
    };
  } finally {
    transport.close();
  }
}
