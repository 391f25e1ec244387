import assert from 'node:assert/strict';
import { compareApk, compareDpkg, compareMaven, comparePep440, compareRpm, compareVersions, type Ecosystem } from '../../src/packages/versions/index.js';
import { rpmvercmp } from '../../src/packages/versions/rpm.js';
import { run, which } from '../harness/process.js';

/** Asserts each list is strictly increasing under `cmp`, and every pair in it agrees (antisymmetry). */
function assertOrdered(cmp: (a: string, b: string) => number, chain: string[]): void {
  for (let i = 0; i < chain.length; i++) {
    for (let j = 0; j < chain.length; j++) {
      const got = Math.sign(cmp(chain[i] as string, chain[j] as string));
      assert.equal(got, Math.sign(i - j), `${chain[i]} vs ${chain[j]}: got ${got}`);
    }
  }
}

/** A seeded generator, so a failing pair can be reproduced. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0;
  return (n) => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return x % n;
  };
}

describe('version ordering', function () {
  it('dpkg: epochs, tildes, revisions, letters before symbols', function () {
    assertOrdered(compareDpkg, ['1.0~~', '1.0~~a', '1.0~', '1.0', '1.0-1', '1.0-1ubuntu1', '1.0-2', '1.0a', '1.0+', '1.0.1', '1.1~rc1', '1.1', '1.10', '2:0.1']);
    assert.equal(compareDpkg('1.0', '1.0-0'), 0);
    assert.equal(compareDpkg('0:1.2', '1.2'), 0);
    assert.equal(compareDpkg('1.01', '1.1'), 0);
    assert.ok(compareDpkg('3.0.11-1~deb12u1', '3.0.15-1~deb12u1') < 0);
    assert.ok(compareDpkg('2.36-9+deb12u4', '2.36-9+deb12u10') < 0);
    assert.throws(() => compareDpkg('a1.0', '1.0'), /invalid Debian version/);
    assert.throws(() => compareDpkg('1.0 beta', '1.0'), /invalid/);
  });

  it('rpm: tilde before, caret after the base, numbers beat letters, epoch first', function () {
    assertOrdered(rpmvercmp, ['1.0~rc1', '1.0', '1.0^git1', '1.0.a', '1.0.1', '1.0.10', '1.1']);
    assertOrdered(compareRpm, ['1.0-1', '1.0-2.el9', '1.0-10', '1.1-1', '1:0.5-1']);
    assert.equal(rpmvercmp('1.0', '1.0'), 0);
    assert.equal(rpmvercmp('1.001', '1.1'), 0);
    assert.equal(rpmvercmp('1_0', '1.0'), 0);
  });

  it('apk: pre-release suffixes before, post suffixes after, letters, revisions', function () {
    assertOrdered(compareApk, ['1.0_alpha', '1.0_alpha2', '1.0_beta', '1.0_pre1', '1.0_rc1', '1.0', '1.0-r1', '1.0-r2', '1.0_p1', '1.0a', '1.0.1', '1.1_rc1', '1.1', '1.2']);
    assertOrdered(compareApk, ['1', '1.001', '1.01', '1.0.1', '1.1']);
    assert.equal(compareApk('3.1.4-r5', '3.1.4-r5'), 0);
    assert.ok(compareApk('1.36.1-r5', '1.36.1-r15') < 0);
    assert.throws(() => compareApk('1.0-beta', '1.0'), /invalid Alpine version/);
  });

  it('PEP 440: dev < pre < final < post, epochs, local versions, normalisation', function () {
    assertOrdered(comparePep440, ['1.0.dev0', '1.0a1.dev1', '1.0a1', '1.0b2', '1.0rc1', '1.0', '1.0+local.1', '1.0.post1.dev0', '1.0.post1', '1.1.dev1', '1.1', '1!0.1']);
    assert.equal(comparePep440('1.0', '1.0.0'), 0);
    assert.equal(comparePep440('1.0alpha1', '1.0a1'), 0);
    assert.equal(comparePep440('1.0-1', '1.0.post1'), 0);
    assert.equal(comparePep440('v2.0', '2.0'), 0);
    assert.ok(comparePep440('1.0+abc.5', '1.0+abc.10') < 0);
    assert.ok(comparePep440('1.0+5', '1.0+abc') > 0);
    assert.throws(() => comparePep440('1.0-foo', '1.0'), /invalid PEP 440/);
  });

  it('Maven: qualifiers, padding, sub-lists', function () {
    assertOrdered(compareMaven, ['1-alpha-1', '1-alpha2', '1-beta', '1-milestone', '1-rc', '1-snapshot', '1', '1-sp', '1-abc', '1-1', '1.1', '1.2', '1.10', '2.0']);
    for (const same of ['1.0', '1.0.0', '1-ga', '1-final', '1-release', '1.0-GA', '1.FINAL']) assert.equal(compareMaven('1', same), 0, same);
    assert.equal(compareMaven('1-cr1', '1-rc1'), 0);
    assert.equal(compareMaven('1a1', '1-alpha-1'), 0);
  });

  it('npm, Go and RubyGems', function () {
    const cases: Array<[Ecosystem, string[]]> = [
      ['npm', ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-beta', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.10.0']],
      ['golang', ['v0.0.0-20191109021931-daa7c04131f5', 'v0.1.0', 'v1.2.3-pre', 'v1.2.3', 'v2.0.0+incompatible']],
      ['gem', ['1.0.0.a', '1.0.0.pre.2', '1.0.0.rc1', '1.0.0', '1.0.1', '1.1']],
    ];
    for (const [eco, chain] of cases) assertOrdered((a, b) => compareVersions(eco, a, b), chain);
    assert.throws(() => compareVersions('npm', 'not.a.version', '1.0.0'), /invalid semver/);
  });
});

describe('version ordering against the real tools @integration', function () {
  this.timeout(300_000);

  function dpkgVersion(r: (n: number) => number): string {
    const pick = (s: string, n: number): string => Array.from({ length: n }, () => s[r(s.length)]).join('');
    const upstreamChars = '0123456789.+~abz';
    let v = `${r(10)}${pick(upstreamChars, r(6))}`;
    if (r(3) === 0) v = `${r(3)}:${v}`;
    if (r(2) === 0) v += `-${pick('0123456789.+~abu', 1 + r(4))}`;
    return v;
  }

  it('dpkg: agrees with dpkg --compare-versions on 3000 generated pairs', async function () {
    if (!(await which('dpkg'))) this.skip();
    const r = rng(1);
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < 3000; i++) {
      const a = dpkgVersion(r);
      // Half the pairs share a prefix, where the interesting differences are.
      const b = r(2) ? a.slice(0, r(a.length + 1)) + dpkgVersion(r).replace(/^\d+:/, '').slice(1) : dpkgVersion(r);
      pairs.push([a, /^[0-9]/.test(b.replace(/^\d+:/, '')) ? b : `0${b}`]);
    }
    const valid = pairs.filter(([a, b]) => {
      try {
        compareDpkg(a, b);
        return true;
      } catch {
        return false;
      }
    });
    const script = 'while read a b; do if dpkg --compare-versions "$a" lt "$b"; then echo -1; elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi; done';
    const out = await run('sh', ['-c', script], { input: valid.map(([a, b]) => `${a} ${b}`).join('\n') + '\n' });
    const theirs = out.stdout.trim().split('\n').map(Number);
    assert.equal(theirs.length, valid.length, out.stderr);
    const disagreements = valid.filter(([a, b], i) => Math.sign(compareDpkg(a, b)) !== theirs[i]).slice(0, 5);
    assert.deepEqual(disagreements, []);
    assert.ok(valid.length > 2500, `${valid.length} valid pairs`);
  });

  it('rpm: agrees with rpm’s own vercmp on 3000 generated pairs', async function () {
    if (!(await which('rpm'))) this.skip();
    const r = rng(2);
    const chars = '0123456789.ab_~^+Z';
    const version = (): string => `${r(5)}${Array.from({ length: r(7) }, () => chars[r(chars.length)]).join('')}`;
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < 3000; i++) {
      const a = version();
      const b = r(2) ? a.slice(0, r(a.length + 1)) + version().slice(1) : version();
      pairs.push([a, /^[0-9a-zA-Z]/.test(b) ? b : `0${b}`]);
    }
    const lua = pairs.map(([a, b]) => `print(rpm.vercmp(${JSON.stringify(a)}, ${JSON.stringify(b)}).."\\n")`).join(' ');
    const out = await run('rpm', ['--eval', `%{lua: ${lua}}`]);
    const theirs = out.stdout.trim().split('\n').map((l) => Math.sign(Number(l)));
    assert.equal(theirs.length, pairs.length, out.stderr.slice(0, 500));
    const disagreements = pairs.filter(([a, b], i) => Math.sign(rpmvercmp(a, b)) !== theirs[i]).slice(0, 5);
    assert.deepEqual(disagreements, []);
  });
});
