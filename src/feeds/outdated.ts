import type { InstalledPackage, OsInfo } from '../packages/types.js';
import { compareApk } from '../packages/versions/apk.js';
import { compareDpkg } from '../packages/versions/dpkg.js';
import type { RawFinding } from '../scan/analyzer.js';
import type { SuiteSnapshot } from './store.js';

export type SuiteRole = 'release' | 'updates' | 'security';

/** One suite of the feed an image is judged by, with the snapshot in use and what became of its refresh. */
export interface SuiteState {
  readonly suite: string;
  readonly role: SuiteRole;
  readonly snapshot: SuiteSnapshot | undefined;
  /** Why the refresh failed (the snapshot, if any, is the last good one). */
  readonly refreshError?: string | undefined;
  /** Older than the allowed age (or past its Valid-Until) and not refreshed. */
  readonly stale?: string | undefined;
}

export interface ResolvedFeed {
  readonly distro: 'debian' | 'alpine';
  readonly release: string;
  /** Where the feed came from: imggate.yaml, the host's apt/apk sources, or only the snapshots the store holds (imported). */
  readonly origin: 'config' | 'host' | 'store';
  readonly suites: readonly SuiteState[];
  /** Suites that should exist but that nothing names (a host without a -security source). */
  readonly missingRoles?: readonly SuiteRole[];
}

const MAX_LISTED = 8;

const ROLE_RANK: Record<SuiteRole, number> = { security: 0, updates: 1, release: 2 };

/** Names for a finding's message: the first few, then how many more. */
export function listed(names: readonly string[]): string {
  return names.length > MAX_LISTED ? `${names.slice(0, MAX_LISTED).join(', ')} and ${names.length - MAX_LISTED} more` : names.join(', ');
}

/** A `feed` finding: a check that did not run, or ran on data it cannot vouch for. Blocking by default (policy can lower it). */
export function feedFinding(rule: string, message: string): RawFinding {
  return { check: 'feed', rule, severity: 'high', blocking: true, message };
}

/**
 * Says, per suite, what the outdated-package check could not rely on: a suite never fetched, one
 * whose refresh failed (the last good snapshot is used and named), one too old, one nobody names.
 */
export function feedStateFindings(feed: ResolvedFeed, why: string): RawFinding[] {
  const out: RawFinding[] = [];
  for (const s of feed.suites) {
    const snap = s.snapshot;
    if (!snap) {
      out.push(feedFinding('feed-missing', `no snapshot of ${s.suite}${s.refreshError ? `: fetching it failed: ${s.refreshError}` : `: ${why}`}; outdated packages against it are unknown`));
    } else if (s.refreshError) {
      out.push(feedFinding('feed-refresh-failed', `refreshing ${s.suite} from ${snap.mirror} failed: ${s.refreshError}; the last good snapshot (fetched ${snap.fetchedAt}${snap.date ? `, archive dated ${snap.date}` : ''}) was used`));
    } else if (s.stale) {
      out.push(feedFinding('stale-feed', `the ${s.suite} snapshot ${s.stale}; ${why}`));
    }
  }
  for (const role of feed.missingRoles ?? []) {
    out.push(feedFinding('feed-missing', `no ${feed.release}-${role} source is configured (imggate.yaml or the host's apt sources): ${role} updates were not checked`));
  }
  return out;
}

/**
 * Installed packages that newer versions exist for in the distribution's own suites. The finding names
 * the newest version in any suite and the suite it is in (a point release can be newer than the last
 * `-security` upload; of suites holding the same newest version, `-security` is named); when
 * `-security` has any newer version it is a missed security update (high), otherwise a stable update
 * (low). Versions that cannot be ordered are reported, never passed over.
 */
export function outdatedFindings(os: OsInfo, packages: readonly InstalledPackage[], feed: ResolvedFeed): RawFinding[] {
  const ecosystem = feed.distro === 'debian' ? 'deb' : 'apk';
  const compare = feed.distro === 'debian' ? compareDpkg : compareApk;
  const suites = feed.suites.filter((s): s is SuiteState & { snapshot: SuiteSnapshot } => s.snapshot !== undefined);
  const out: RawFinding[] = [];
  const unordered: string[] = [];
  for (const pkg of packages) {
    if (pkg.ecosystem !== ecosystem) continue;
    const newer: Array<{ suite: string; role: SuiteRole; version: string }> = [];
    let failed = false;
    for (const s of suites) {
      const version = s.snapshot.packages[pkg.name];
      if (version === undefined) continue;
      try {
        if (compare(version, pkg.version) > 0) newer.push({ suite: s.suite, role: s.role, version });
      } catch {
        failed = true;
      }
    }
    if (failed) unordered.push(`${pkg.name} ${pkg.version}`);
    if (!newer.length) continue;
    // One version in two suites is named by the more specific one: Ubuntu copies every -security
    // upload into -updates, and the finding should say it is the security update.
    newer.sort((a, b) => compare(b.version, a.version) || ROLE_RANK[a.role] - ROLE_RANK[b.role]);
    const newest = newer[0] as (typeof newer)[number];
    const security = newer.find((n) => n.role === 'security');
    const where = newer.map((n) => `${n.version} in ${n.suite}`).join(', ');
    out.push({
      check: 'outdated-package',
      rule: security ? 'security-update' : 'stable-update',
      severity: security ? 'high' : 'low',
      blocking: security !== undefined,
      message: `${pkg.name} ${pkg.version} is outdated: newest ${newest.version} in ${newest.suite}${newer.length > 1 ? ` (${where})` : ''}${security ? '; includes a security update' : ''}`,
      path: pkg.path,
      layerIndex: pkg.layerIndex,
      package: { ecosystem, name: pkg.name, version: pkg.version, fixedVersion: newest.version, fixedIn: newest.suite },
    });
  }
  if (unordered.length) {
    out.push(feedFinding('version-unordered', `${unordered.length} installed package version(s) of ${os.prettyName ?? os.id} could not be ordered against the feed, so whether they are outdated is unknown: ${listed(unordered)}`));
  }
  return out;
}
