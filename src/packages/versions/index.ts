import semver from 'semver';
import { compareApk } from './apk.js';
import { compareDpkg } from './dpkg.js';
import { compareMaven } from './maven.js';
import { comparePep440 } from './pep440.js';
import { compareRpm } from './rpm.js';

export type Ecosystem = 'deb' | 'apk' | 'rpm' | 'npm' | 'pypi' | 'maven' | 'golang' | 'gem';

/** Go module versions are semver with a `v`; pseudo-versions are prereleases and order as semver says. */
function compareGo(a: string, b: string): number {
  const x = semver.parse(a.replace(/^v/, '').replace(/\+incompatible$/, ''));
  const y = semver.parse(b.replace(/^v/, '').replace(/\+incompatible$/, ''));
  if (!x || !y) throw new Error(`invalid Go module version ${JSON.stringify(x ? b : a)}`);
  return semver.compare(x, y);
}

function compareNpm(a: string, b: string): number {
  const x = semver.parse(a);
  const y = semver.parse(b);
  if (!x || !y) throw new Error(`invalid semver version ${JSON.stringify(x ? b : a)}`);
  return semver.compare(x, y);
}

/** RubyGems: dot-separated segments, numbers numerically, missing ones as 0, a letter segment marks a prerelease. */
function compareGem(a: string, b: string): number {
  const split = (v: string): Array<number | string> =>
    v.replace(/-/g, '.pre.').split('.').flatMap((s) => s.match(/\d+|[a-z]+/gi) ?? []).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i] ?? 0;
    const q = y[i] ?? 0;
    if (p === q) continue;
    if (typeof p !== typeof q) return typeof p === 'string' ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

const COMPARATORS: Record<Ecosystem, (a: string, b: string) => number> = {
  deb: compareDpkg,
  apk: compareApk,
  rpm: compareRpm,
  npm: compareNpm,
  pypi: comparePep440,
  maven: compareMaven,
  golang: compareGo,
  gem: compareGem,
};

/** Orders two versions of one ecosystem: negative, zero or positive. Throws on a version it cannot read. */
export function compareVersions(ecosystem: Ecosystem, a: string, b: string): number {
  return Math.sign(COMPARATORS[ecosystem](a, b));
}

export { compareApk, compareDpkg, compareMaven, comparePep440, compareRpm };
