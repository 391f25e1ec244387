import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseOsRelease, parseStanzas } from '../packages/parsers.js';
import type { OsInfo } from '../packages/types.js';
import type { AlpineFeed } from './alpine.js';
import type { DebianFeed } from './debian.js';

/** One `deb` line or deb822 entry of the host's apt configuration, one suite at a time. */
export interface AptSource {
  readonly uri: string;
  readonly suite: string;
  readonly components: readonly string[];
  /** Keyring files from `signed-by` / `Signed-By` (inline key blocks are not kept). */
  readonly signedBy: readonly string[];
  readonly file: string;
}

function signedByPaths(value: string | undefined): string[] {
  if (!value || value.includes('BEGIN PGP')) return [];
  return value.split(/[\s,]+/).filter((p) => p.startsWith('/'));
}

/** The one-line format: `deb [ opt=value … ] uri suite component…` (sources.list(5)). */
export function parseSourcesList(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)((?:\s+\S+)*)$/.exec(line);
    if (!m?.[2] || !m[3]) continue;
    const options = new Map((m[1] ?? '').trim().split(/\s+/).filter(Boolean).map((o) => [o.split('=')[0] ?? '', o.slice(o.indexOf('=') + 1)] as const));
    out.push({ uri: m[2], suite: m[3], components: (m[4] ?? '').trim().split(/\s+/).filter(Boolean), signedBy: signedByPaths(options.get('signed-by')), file });
  }
  return out;
}

/** The deb822 format of `*.sources` files: `Types`, `URIs`, `Suites`, `Components`, `Signed-By`, `Enabled`. */
export function parseDeb822Sources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  const uncommented = text.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  for (const stanza of parseStanzas(uncommented)) {
    const words = (name: string): string[] => (stanza.get(name) ?? '').split(/\s+/).filter(Boolean);
    if (!words('Types').includes('deb') || (stanza.get('Enabled') ?? 'yes').toLowerCase() === 'no') continue;
    for (const uri of words('URIs')) {
      for (const suite of words('Suites')) out.push({ uri, suite, components: words('Components'), signedBy: signedByPaths(stanza.get('Signed-By')), file });
    }
  }
  return out;
}

async function readOr(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Every enabled `deb` source of the host's apt configuration under `aptDir` (`/etc/apt`). */
export async function readAptSources(aptDir: string): Promise<AptSource[]> {
  const out: AptSource[] = [];
  const main = path.join(aptDir, 'sources.list');
  const text = await readOr(main);
  if (text !== undefined) out.push(...parseSourcesList(text, main));
  const dir = path.join(aptDir, 'sources.list.d');
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.sort()) {
    const file = path.join(dir, name);
    if (name.endsWith('.list')) out.push(...parseSourcesList((await readOr(file)) ?? '', file));
    else if (name.endsWith('.sources')) out.push(...parseDeb822Sources((await readOr(file)) ?? '', file));
  }
  return out;
}

/** The host's own release: `file`, else `/etc/os-release`, then `/usr/lib/os-release` (os-release(5)); undefined when unreadable. */
export async function readHostRelease(file?: string): Promise<OsInfo | undefined> {
  for (const candidate of file ? [file] : ['/etc/os-release', '/usr/lib/os-release']) {
    const text = await readOr(candidate);
    if (text !== undefined) return parseOsRelease(text);
  }
  return undefined;
}

const SUITE = /^([a-z][a-z0-9]*)(-updates|-security)?$/;

/**
 * The Debian-style feed for an image's release, taken from the host's own apt sources: the mirror that
 * carries the host's `<codename>` and `-updates`, and the one that carries its `-security`, asked for the
 * image's codename instead (a bullseye image on a bookworm host is judged by bullseye's suites of the
 * same mirrors) unless `otherReleases` is false (the image is another distribution's than the host's).
 * Only hosts named by the operator's apt configuration are contacted, never a URL taken from the
 * image. Undefined when the host has no such sources.
 */
export function debianFeedFromHost(sources: readonly AptSource[], codename: string, architecture: string, defaultKeyrings: readonly string[], otherReleases = true): DebianFeed | undefined {
  // A codename counts as the host's distribution release when the same configuration also carries its
  // -updates or -security suite: that leaves out third-party repositories (`nodistro`, `stable`).
  const byCodename = new Map<string, { release?: AptSource; updates?: AptSource; security?: AptSource }>();
  for (const s of sources) {
    const m = SUITE.exec(s.suite);
    if (!m?.[1] || !/^(https?):\/\//.test(s.uri)) continue;
    const entry = byCodename.get(m[1]) ?? {};
    const role = m[2] === '-updates' ? 'updates' : m[2] === '-security' ? 'security' : 'release';
    entry[role] ??= s;
    byCodename.set(m[1], entry);
  }
  const candidates = [...byCodename.entries()].filter(([, e]) => e.release && (e.updates || e.security));
  const chosen = candidates.find(([c]) => c === codename) ?? (otherReleases ? candidates[0] : undefined);
  const host = chosen?.[1];
  if (!host?.release) return undefined;
  const keyrings = [...new Set([host.release, host.security].flatMap((s) => s?.signedBy ?? []))].filter((k) => existsSync(k));
  const keyring = keyrings.length ? keyrings : defaultKeyrings.filter((k) => existsSync(k));
  return {
    mirror: host.release.uri,
    ...(host.security ? { securityMirror: host.security.uri } : {}),
    codename,
    components: host.release.components.length ? [...host.release.components] : ['main'],
    architectures: [architecture],
    ...(keyring.length ? { keyring: keyring.length === 1 ? keyring[0] : keyring } : {}),
    withSecurity: host.security !== undefined,
  };
}

/** Debian's name for an OCI architecture (`arm/v7` → `armhf`). */
export function debianArchitecture(architecture: string, variant?: string): string {
  if (architecture === 'arm') return variant === 'v5' ? 'armel' : 'armhf';
  return ({ '386': 'i386', ppc64le: 'ppc64el', mips64le: 'mips64el' } as Record<string, string>)[architecture] ?? architecture;
}

/** Alpine's name for an OCI architecture. */
export function alpineArchitecture(architecture: string, variant?: string): string {
  if (architecture === 'arm') return variant === 'v6' ? 'armhf' : 'armv7';
  return ({ amd64: 'x86_64', arm64: 'aarch64', '386': 'x86' } as Record<string, string>)[architecture] ?? architecture;
}

/**
 * The Alpine feed for an image's branch from the host's `/etc/apk/repositories`
 * (`<mirror>/<branch>/<repository>` lines, `@tag` prefixes allowed): the same mirrors and repositories,
 * asked for the image's branch. Undefined when the host lists none.
 */
export function alpineFeedFromHost(repositoriesText: string, branch: string, architecture: string, keys: string | undefined): AlpineFeed | undefined {
  const mirrors = new Map<string, Set<string>>();
  for (const raw of repositoriesText.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim().replace(/^@\S+\s+/, '');
    const m = /^(https?:\/\/.+?)\/(v\d+\.\d+|edge)\/([^/\s]+)\/?$/.exec(line);
    if (!m?.[1] || !m[3]) continue;
    const repos = mirrors.get(m[1]) ?? new Set<string>();
    repos.add(m[3]);
    mirrors.set(m[1], repos);
  }
  const first = [...mirrors.entries()][0];
  if (!first) return undefined;
  return { mirror: first[0], branch, repositories: [...first[1]], architectures: [architecture], ...(keys ? { keys } : {}) };
}
