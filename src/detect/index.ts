import { posix } from 'node:path';
import { detectOutdated, type FeedSettings, type FeedUse, type ImagePlatform } from '../feeds/resolve.js';
import { listed } from '../feeds/outdated.js';
import { affects, osvCoordinates, type AdvisoryDb } from '../packages/osv.js';
import type { InstalledPackage, Inventory, OsInfo } from '../packages/types.js';
import type { EolFile } from '../policy/rules-schema.js';
import type { RawFinding } from '../scan/analyzer.js';

/**
 * The detect stage: what the layers' inventory means today. It runs after the scan, over the
 * inventory alone (no layer is read), so its answers can change with the feeds and the date while the
 * scan's cannot: end of life from `rules/eol.yaml`, advisories from OSV, outdated distribution
 * packages from the distribution's own suites.
 */
export interface DetectSettings {
  readonly eol: EolFile['distros'];
  /** Imported OSV advisories, when any are configured. */
  readonly advisories?: AdvisoryDb | undefined;
  /** Advisories are configured but were never imported into the store. */
  readonly advisoriesMissing?: boolean;
  readonly feeds: FeedSettings;
}

export interface Detected {
  readonly findings: RawFinding[];
  readonly feeds: FeedUse[];
}

export async function detect(inventory: Inventory | undefined, platform: ImagePlatform, settings: DetectSettings): Promise<Detected> {
  const os = inventory?.os;
  const packages = inventory?.packages ?? [];
  const findings: RawFinding[] = [...endOfLife(os, settings.eol, settings.feeds.now), ...advisoryFindings(os, packages, settings)];
  const outdated = await detectOutdated(inventory, platform, settings.feeds);
  return { findings: [...findings, ...outdated.findings], feeds: outdated.feeds };
}

/** A release past its end of life blocks; one in LTS only is reported at low severity. */
export function endOfLife(os: OsInfo | undefined, table: EolFile['distros'], now: Date): RawFinding[] {
  if (!os?.versionId) return [];
  const distro = table.find((d) => d.id === os.id);
  if (!distro) return [];
  const versionId = os.versionId;
  const release = distro.releases.find((r) => r.version === versionId || versionId.startsWith(`${r.version}.`));
  const name = `${os.prettyName ?? `${os.id} ${versionId}`}`;
  if (!release) return [{ check: 'eol-distro', rule: 'unknown-os', severity: 'info', blocking: false, message: `${name} is not in the end-of-life table (rules/eol.yaml)` }];
  const today = now.toISOString().slice(0, 10);
  if (release.eol < today) {
    return [{ check: 'eol-distro', rule: 'eol-distro', severity: 'high', blocking: true, message: `${name} reached its end of life on ${release.eol}: it gets no security updates` }];
  }
  if (release.security && release.security < today) {
    return [{ check: 'eol-distro', rule: 'eol-distro-lts', severity: 'low', blocking: false, message: `${name} left regular security support on ${release.security}; LTS support ends ${release.eol}` }];
  }
  return [];
}

/** Packages that OSV advisories name, and whether the advisories could be consulted at all. */
function advisoryFindings(os: OsInfo | undefined, packages: readonly InstalledPackage[], settings: DetectSettings): RawFinding[] {
  const out: RawFinding[] = [];
  const { advisories, feeds } = settings;
  if (settings.advisoriesMissing) {
    out.push({ check: 'feed', rule: 'feed-missing', severity: 'high', blocking: true, message: 'the configured OSV advisories were never imported: run imggate feeds update; vulnerable packages are unknown' });
  } else if (advisories?.fetchedAt && feeds.now.getTime() - Date.parse(advisories.fetchedAt) > feeds.maxAgeMs) {
    out.push({ check: 'feed', rule: 'stale-feed', severity: 'high', blocking: true, message: `the OSV advisories were imported on ${advisories.fetchedAt}, longer ago than the allowed feed age; run imggate feeds update` });
  }
  if (!advisories) return out;
  const unordered: string[] = [];
  for (const pkg of packages) {
    const coords = osvCoordinates(pkg, os);
    if (!coords) continue;
    const version = pkg.ecosystem === 'deb' || pkg.ecosystem === 'apk' ? (pkg.sourceVersion ?? pkg.version) : pkg.version;
    for (const record of advisories.lookup(coords.ecosystem, coords.name)) {
      const match = affects(record, coords, pkg.ecosystem, version);
      if (match === 'unordered') unordered.push(`${pkg.name} ${version} (${record.id})`);
      if (!match || match === 'unordered') continue;
      const alias = (record.aliases ?? []).find((a) => a.startsWith('CVE-'));
      out.push({
        check: 'vulnerable-package',
        rule: record.id,
        severity: match.severity,
        blocking: false,
        message: `${pkg.name} ${pkg.version} is affected by ${record.id}${alias && alias !== record.id ? ` (${alias})` : ''}${match.fixed ? `; fixed in ${match.fixed}` : '; no fixed version yet'}${match.severityKnown ? '' : '; the advisory gives no severity'}`,
        path: posix.normalize(pkg.path),
        layerIndex: pkg.layerIndex,
        package: { ecosystem: pkg.ecosystem, name: pkg.name, version: pkg.version, ...(match.fixed ? { fixedVersion: match.fixed } : {}) },
      });
    }
  }
  if (unordered.length) {
    out.push({ check: 'feed', rule: 'version-unordered', severity: 'high', blocking: true, message: `${unordered.length} installed package version(s) could not be ordered against an OSV advisory's affected range, so whether they are affected is unknown: ${listed(unordered)}` });
  }
  return out;
}
