import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigFile } from '../config/schema.js';
import { describeError, ImggateError } from '../errors.js';
import type { Inventory, OsInfo } from '../packages/types.js';
import type { RawFinding } from '../scan/analyzer.js';
import { fetchAlpine, type AlpineFeed } from './alpine.js';
import { fetchSuite, suitesOf, type DebianFeed } from './debian.js';
import { alpineArchitecture, alpineFeedFromHost, debianArchitecture, debianFeedFromHost, readAptSources, readHostRelease } from './host-sources.js';
import { withFeedLock } from './lock.js';
import { feedFinding, feedStateFindings, outdatedFindings, type ResolvedFeed, type SuiteRole, type SuiteState } from './outdated.js';
import { loadSuiteSnapshot, saveSuiteFiles, saveSuiteSnapshot, type SuiteSnapshot } from './store.js';

/** How a check finds, refreshes and judges by distribution feeds. */
export interface FeedSettings {
  readonly config: ConfigFile;
  readonly storeDir: string;
  readonly maxAgeMs: number;
  /** Fetch a missing or stale snapshot before judging (default true; `--offline` or `feeds.autoUpdate: false` turn it off). */
  readonly autoUpdate: boolean;
  readonly now: Date;
  /** Told what is being fetched, for a progress line on a terminal. */
  readonly progress?: ((message: string) => void) | undefined;
}

/** The image's platform, as its config says: which architecture's index to read. */
export interface ImagePlatform {
  readonly architecture?: string | undefined;
  readonly variant?: string | undefined;
}

export interface FeedUse {
  readonly kind: 'debian' | 'alpine';
  readonly sources: readonly string[];
  readonly records: number;
  readonly digest: string;
  readonly fetchedAt: string;
  readonly verified: boolean;
  readonly date?: string;
  readonly validUntil?: string;
}

export interface OutdatedResult {
  readonly findings: RawFinding[];
  readonly feeds: FeedUse[];
}

/** One suite to keep fresh: where its snapshot is stored and how to fetch it. */
interface SuitePlan {
  readonly suite: string;
  readonly role: SuiteRole;
  readonly release: string;
  readonly distro: 'debian' | 'alpine';
  readonly mirror: string;
  fetch(previous: SuiteSnapshot | undefined, now: Date, keep: (file: string, data: Buffer) => void): Promise<SuiteSnapshot>;
}

interface FeedPlan {
  readonly distro: 'debian' | 'alpine';
  readonly release: string;
  readonly origin: 'config' | 'host' | 'store';
  readonly suites: readonly SuitePlan[];
  readonly missingRoles: readonly SuiteRole[];
}

function debianPlan(feed: DebianFeed, release: string, origin: 'config' | 'host', expectedOrigin: string | undefined): FeedPlan {
  return {
    distro: 'debian',
    release,
    origin,
    suites: suitesOf(feed).map(({ suite, mirror, role }) => ({
      suite,
      role,
      release,
      distro: 'debian' as const,
      mirror,
      fetch: (previous, now, keep) => fetchSuite(feed, mirror, suite, { now, previous, origin: expectedOrigin, keep }),
    })),
    missingRoles: feed.withSecurity === false ? ['security'] : [],
  };
}

function alpinePlan(feed: AlpineFeed, release: string, origin: 'config' | 'host'): FeedPlan {
  return {
    distro: 'alpine',
    release,
    origin,
    suites: [{ suite: feed.branch, role: 'updates', release, distro: 'alpine', mirror: feed.mirror, fetch: (_previous, now) => fetchAlpine(feed, now) }],
    missingRoles: [],
  };
}

/**
 * The snapshots the store holds for a Debian-style release (imported on a machine that reaches no
 * archive), as a plan whose refresh fails saying why: used when nothing names an archive for the
 * release. Undefined when the store holds none of this distribution's.
 */
async function storedPlan(storeDir: string, os: OsInfo, codename: string, release: string, why: string): Promise<FeedPlan | undefined> {
  const roles: Array<[string, SuiteRole]> = [[codename, 'release'], [`${codename}-updates`, 'updates'], [`${codename}-security`, 'security']];
  const held = await Promise.all(roles.map(([suite]) => loadSuiteSnapshot(storeDir, release, suite).catch(() => undefined)));
  if (!held.some((s) => s && (s.origin ?? os.id).toLowerCase() === os.id)) return undefined;
  const refresh = (): Promise<SuiteSnapshot> => Promise.reject(new ImggateError('NOT_FOUND', `nothing names an archive to refresh it from (${why}); import a newer export with imggate feeds import`));
  return {
    distro: 'debian',
    release,
    origin: 'store',
    suites: roles.map(([suite, role]) => ({ suite, role, release, distro: 'debian' as const, mirror: 'the store', fetch: refresh })),
    missingRoles: [],
  };
}

export async function defaultKeyrings(aptDir: string, id: string): Promise<string[]> {
  const trusted = path.join(aptDir, 'trusted.gpg.d');
  const names = await readdir(trusted).catch(() => [] as string[]);
  // gpgv reads binary keyrings only; apt's armored *.asc copies are left to the distribution keyring.
  return [`/usr/share/keyrings/${id}-archive-keyring.gpg`, ...names.filter((n) => n.endsWith('.gpg')).sort().map((n) => path.join(trusted, n)), path.join(aptDir, 'trusted.gpg')];
}

/**
 * The keyrings a check on this host verifies `codename`'s suites of distribution `id` with: those its
 * apt sources name for them (Signed-By), else the distribution's and apt's trusted keyrings.
 */
export async function hostKeyrings(aptDir: string, codename: string, id: string, osRelease?: string): Promise<string[]> {
  const defaults = await defaultKeyrings(aptDir, id);
  const hostRelease = await readHostRelease(osRelease);
  const feed = debianFeedFromHost(await readAptSources(aptDir), codename, 'all', defaults, hostRelease === undefined || hostRelease.id === id);
  const keyring = feed?.keyring ?? defaults.filter((k) => existsSync(k));
  return typeof keyring === 'string' ? [keyring] : [...keyring];
}

/**
 * Which feed judges this image: a feed in imggate.yaml for its release, else one built from the host's
 * own package sources (apt's sources for Debian and Ubuntu, `/etc/apk/repositories` for Alpine) asked
 * for the image's release. A string when there is none: the reason, for the finding.
 */
async function planFor(os: OsInfo | undefined, ecosystem: 'deb' | 'apk', platform: ImagePlatform, settings: FeedSettings): Promise<FeedPlan | string> {
  const { config } = settings;
  const name = os ? (os.prettyName ?? `${os.id} ${os.versionId ?? ''}`.trim()) : 'an image without /etc/os-release';
  const host = config.feeds.hostSources === false ? undefined : (config.feeds.hostSources ?? {});
  if (ecosystem === 'deb') {
    const codename = os?.codename;
    if (!os || !codename) return `${name} does not say its release codename (VERSION_CODENAME in os-release), so no suite can be chosen`;
    const configured = (config.feeds.debian ?? []).find((f) => f.codename === codename);
    if (configured) return debianPlan(configured, codename, 'config', undefined);
    if (!host) return `no Debian-style feed for ${codename} in imggate.yaml, and the host's package sources are turned off (feeds.hostSources: false)`;
    if (os.id !== 'debian' && os.id !== 'ubuntu') return `imggate has no feed for ${name} (ID=${os.id}) and takes only Debian and Ubuntu archives from the host's apt sources`;
    const aptDir = host.apt ?? '/etc/apt';
    const arch = debianArchitecture(platform.architecture ?? 'amd64', platform.variant);
    // The host's sources are its own distribution's archive: asked for another release of it (a
    // bullseye image on a bookworm host), never for another distribution's (an Ubuntu image there).
    const hostRelease = await readHostRelease(host.osRelease);
    const sameDistribution = hostRelease === undefined || hostRelease.id === os.id;
    const sources = await readAptSources(aptDir);
    const feed = debianFeedFromHost(sources, codename, arch, await defaultKeyrings(aptDir, os.id), sameDistribution);
    if (!feed) {
      const own = sameDistribution ? undefined : debianFeedFromHost(sources, codename, arch, []);
      const why = own
        ? `no feed for ${codename} in imggate.yaml, and the host's apt sources (${aptDir}) name only ${own.mirror}, the archive of this host's ${hostRelease?.prettyName ?? hostRelease?.id}, not one for ${name}`
        : `no feed for ${codename} in imggate.yaml, and the host's apt sources (${aptDir}) name no distribution archive`;
      return (await storedPlan(settings.storeDir, os, codename, `${codename}/${arch}`, why)) ?? why;
    }
    if (feed.keyring === undefined) return `the host's apt sources name ${feed.mirror}, but no keyring to verify it was found (Signed-By, /usr/share/keyrings/${os.id}-archive-keyring.gpg)`;
    return debianPlan(feed, `${codename}/${arch}`, 'host', os.id);
  }
  const branch = os?.id === 'alpine' ? /^(\d+\.\d+)/.exec(os.versionId ?? '')?.[1] : undefined;
  if (!os || !branch) return `${name} is not an Alpine release imggate can tell the branch of (ID=alpine, VERSION_ID)`;
  const configured = (config.feeds.alpine ?? []).find((f) => f.branch === `v${branch}`);
  if (configured) return alpinePlan(configured, configured.branch, 'config');
  if (!host) return `no Alpine feed for v${branch} in imggate.yaml, and the host's package sources are turned off (feeds.hostSources: false)`;
  const file = host.apkRepositories ?? '/etc/apk/repositories';
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const arch = alpineArchitecture(platform.architecture ?? 'amd64', platform.variant);
  const feed = text === undefined ? undefined : alpineFeedFromHost(text, `v${branch}`, arch, host.apkKeys ?? '/etc/apk/keys');
  if (!feed) return `no Alpine feed for v${branch} in imggate.yaml, and the host has no ${file} naming a mirror`;
  return alpinePlan(feed, `v${branch}/${arch}`, 'host');
}

function staleness(snapshot: SuiteSnapshot, settings: FeedSettings): string | undefined {
  const t = settings.now.getTime();
  if (snapshot.validUntil !== undefined && Date.parse(snapshot.validUntil) < t) return `expired at ${snapshot.validUntil} (the archive's Valid-Until)`;
  if (t - Date.parse(snapshot.fetchedAt) > settings.maxAgeMs) return `is from ${snapshot.fetchedAt}, older than the allowed feed age`;
  return undefined;
}

/** Fetches a suite and stores the snapshot with the signed files it was made from. */
async function fetchAndSave(s: SuitePlan, previous: SuiteSnapshot | undefined, settings: FeedSettings): Promise<SuiteSnapshot> {
  const files = new Map<string, Buffer>();
  const fresh = await s.fetch(previous, settings.now, (file, data) => files.set(file, data));
  if (files.size) await saveSuiteFiles(settings.storeDir, s.release, fresh, files);
  await saveSuiteSnapshot(settings.storeDir, s.release, fresh);
  return fresh;
}

/**
 * Loads the snapshots a feed plan needs and, when allowed, refreshes the missing and stale ones under
 * the store's lock (re-reading after taking it: another check may just have fetched them). A refresh
 * that fails keeps the last good snapshot and says why.
 */
async function loadFeed(plan: FeedPlan, settings: FeedSettings): Promise<ResolvedFeed> {
  const load = async (s: SuitePlan): Promise<SuiteSnapshot | undefined> => {
    // Any verified snapshot of this release counts, whichever mirror it came through (an imported one
    // names the mirror it was fetched from, not this host's); the report names the mirror.
    return loadSuiteSnapshot(settings.storeDir, s.release, s.suite, s.distro).catch(() => undefined);
  };
  const states = new Map<string, SuiteState>();
  for (const s of plan.suites) {
    const snapshot = await load(s);
    states.set(s.suite, { suite: s.suite, role: s.role, snapshot, stale: snapshot ? staleness(snapshot, settings) : undefined });
  }
  const due = (): SuitePlan[] => plan.suites.filter((s) => { const st = states.get(s.suite); return !st?.snapshot || st.stale !== undefined; });
  if (settings.autoUpdate && due().length) {
    await withFeedLock(settings.storeDir, async () => {
      for (const s of due()) {
        const previous = await load(s);
        if (previous && !staleness(previous, settings)) {
          states.set(s.suite, { suite: s.suite, role: s.role, snapshot: previous });
          continue;
        }
        settings.progress?.(`fetching ${s.suite} from ${s.mirror}`);
        try {
          const fresh = await fetchAndSave(s, previous, settings);
          states.set(s.suite, { suite: s.suite, role: s.role, snapshot: fresh });
        } catch (err) {
          states.set(s.suite, { suite: s.suite, role: s.role, snapshot: previous, refreshError: describeError(err) });
        }
      }
    });
  }
  return { distro: plan.distro, release: plan.release, origin: plan.origin, suites: plan.suites.map((s) => states.get(s.suite) as SuiteState), missingRoles: plan.missingRoles };
}

function feedUses(feed: ResolvedFeed): FeedUse[] {
  return feed.suites.flatMap(({ suite, snapshot: s }) =>
    s
      ? [{
          kind: feed.distro,
          sources: [feed.distro === 'debian' ? `${s.mirror}dists/${suite}` : `${s.mirror}${suite}`],
          records: Object.keys(s.packages).length,
          digest: s.digest,
          fetchedAt: s.fetchedAt,
          verified: s.verified,
          ...(s.date ? { date: s.date } : {}),
          ...(s.validUntil ? { validUntil: s.validUntil } : {}),
        }]
      : [],
  );
}

/**
 * The detect stage for distribution packages: finds the feed for the image's release, keeps it fresh,
 * and reports outdated packages — or, when any part of that could not be done, a `feed` finding naming
 * what did not run and why (blocking by default: a skipped check is never a silent pass).
 */
export async function detectOutdated(inventory: Inventory | undefined, platform: ImagePlatform, settings: FeedSettings): Promise<OutdatedResult> {
  const packages = inventory?.packages ?? [];
  const os = inventory?.os;
  const has = (e: string): boolean => packages.some((p) => p.ecosystem === e);
  const ecosystem = has('deb') ? 'deb' : has('apk') ? 'apk' : undefined;
  if (!ecosystem) {
    if (has('rpm')) return { findings: [feedFinding('no-feed', `outdated-package check did not run: imggate has no package feed for rpm distributions (${os?.prettyName ?? os?.id ?? 'unknown release'})`)], feeds: [] };
    return { findings: [], feeds: [] };
  }
  const plan = await planFor(os, ecosystem, platform, settings);
  if (typeof plan === 'string') return { findings: [feedFinding('no-feed', `outdated-package check did not run: ${plan}`)], feeds: [] };
  const feed = await loadFeed(plan, settings);
  const why = settings.autoUpdate ? 'run imggate feeds update' : 'automatic updates are off (--offline or feeds.autoUpdate: false): run imggate feeds update or imggate feeds import';
  const findings = feedStateFindings(feed, why);
  if (os) findings.push(...outdatedFindings(os, packages, feed));
  return { findings, feeds: feedUses(feed) };
}

export interface HostUpdateResult {
  readonly suite: string;
  readonly mirror: string;
  readonly packages?: number;
  readonly digest?: string;
  readonly verified?: boolean;
  readonly date?: string;
  readonly validUntil?: string;
  readonly error?: string;
}

/**
 * `imggate feeds update` for a release taken from the host's package sources (or imggate.yaml): every
 * suite fetched now, under the store's lock, whatever the age of what is held. A string when no feed
 * can be found for that release.
 */
export async function updateFeedFor(os: OsInfo, platform: ImagePlatform, settings: FeedSettings): Promise<HostUpdateResult[] | string> {
  const plan = await planFor(os, os.id === 'alpine' ? 'apk' : 'deb', platform, settings);
  if (typeof plan === 'string') return plan;
  return withFeedLock(settings.storeDir, async () => {
    const out: HostUpdateResult[] = [];
    for (const s of plan.suites) {
      const previous = await loadSuiteSnapshot(settings.storeDir, s.release, s.suite, s.distro).catch(() => undefined);
      settings.progress?.(`fetching ${s.suite} from ${s.mirror}`);
      try {
        const fresh = await fetchAndSave(s, previous, settings);
        out.push({ suite: s.suite, mirror: fresh.mirror, packages: Object.keys(fresh.packages).length, digest: fresh.digest, verified: fresh.verified, ...(fresh.date ? { date: fresh.date } : {}), ...(fresh.validUntil ? { validUntil: fresh.validUntil } : {}) });
      } catch (err) {
        out.push({ suite: s.suite, mirror: s.mirror, error: describeError(err) });
      }
    }
    return out;
  });
}
