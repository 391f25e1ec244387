import assert from 'node:assert/strict';
import { affects, cvss3Score, type Match, type OsvRecord } from '../../src/packages/osv.js';
import { parseApkInstalled, parseDpkgStatus, parseNpmPackageJson, parseOsRelease, parsePythonMetadata } from '../../src/packages/parsers.js';

const record = (events: Array<Record<string, string>>, extra: Partial<OsvRecord> = {}, versions?: string[]): OsvRecord => ({
  id: 'TEST-1',
  modified: '2026-01-01T00:00:00Z',
  affected: [{ package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [{ type: 'ECOSYSTEM', events }], ...(versions ? { versions } : {}) }],
  ...extra,
});
const coords = { ecosystem: 'Debian:12', name: 'openssl' };

/** `affects` where the versions are orderable: a match or nothing. */
function hit(...args: Parameters<typeof affects>): Match | undefined {
  const m = affects(...args);
  assert.notEqual(m, 'unordered');
  return m === 'unordered' ? undefined : m;
}

describe('OSV matching', function () {
  it('walks introduced/fixed ranges in version order, whatever order the events come in', function () {
    const r = record([{ fixed: '3.0.15-1~deb12u1' }, { introduced: '0' }]);
    assert.equal(hit(r, coords, 'deb', '3.0.11-1~deb12u1')?.fixed, '3.0.15-1~deb12u1');
    assert.equal(hit(r, coords, 'deb', '3.0.15-1~deb12u1'), undefined);
    assert.equal(hit(r, coords, 'deb', '3.0.16-1'), undefined);
  });

  it('handles several introduced/fixed pairs, last_affected, and exact versions', function () {
    const r = record([{ introduced: '1.0' }, { fixed: '1.2' }, { introduced: '2.0' }, { fixed: '2.3' }]);
    assert.ok(hit(r, coords, 'deb', '1.1'));
    assert.equal(hit(r, coords, 'deb', '1.5'), undefined);
    assert.equal(hit(r, coords, 'deb', '2.1')?.fixed, '2.3');
    const last = record([{ introduced: '0' }, { last_affected: '5.0' }]);
    assert.ok(hit(last, coords, 'deb', '5.0'));
    assert.equal(hit(last, coords, 'deb', '5.0')?.fixed, undefined);
    assert.equal(hit(last, coords, 'deb', '5.0.1'), undefined);
    assert.ok(hit(record([], {}, ['9.9-1']), coords, 'deb', '9.9-1'));
    assert.equal(hit(record([{ introduced: '0' }]), { ecosystem: 'Debian:11', name: 'openssl' }, 'deb', '1'), undefined, 'another release');
  });

  it('takes severity from the advisory, or from its CVSS vector', function () {
    assert.equal(hit(record([{ introduced: '0' }], { database_specific: { severity: 'HIGH' } }), coords, 'deb', '1')?.severity, 'high');
    const cvss = record([{ introduced: '0' }], { severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] });
    assert.equal(hit(cvss, coords, 'deb', '1')?.severity, 'critical');
    const none = hit(record([{ introduced: '0' }]), coords, 'deb', '1');
    assert.equal(none?.severityKnown, false);
  });

  it('says when a version cannot be ordered against a range that names the package (unknown, not unaffected)', function () {
    const npm = { ecosystem: 'npm', name: 'left-pad' };
    const r: OsvRecord = { id: 'TEST-2', modified: '2026-01-01T00:00:00Z', affected: [{ package: npm, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.3.0' }] }] }] };
    assert.equal(affects(r, npm, 'npm', 'not a version'), 'unordered');
    assert.equal(hit(r, npm, 'npm', '1.3.0'), undefined);
    assert.ok(hit(r, npm, 'npm', '1.2.9'));
    // An exact listing still matches a version no ordering reads.
    const listed: OsvRecord = { ...r, affected: [{ package: npm, versions: ['not a version'], ranges: r.affected?.[0]?.ranges ?? [] }] };
    assert.ok(affects(listed, npm, 'npm', 'not a version'));
    assert.notEqual(affects(listed, npm, 'npm', 'not a version'), 'unordered');
  });

  it('computes CVSS 3.x base scores', function () {
    const cases: Array<[string, number]> = [
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1],
      ['CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8],
      ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L', 3.7],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0],
    ];
    for (const [vector, score] of cases) assert.equal(cvss3Score(vector), score, vector);
    assert.equal(cvss3Score('CVSS:2.0/AV:N'), undefined);
  });
});

describe('package database parsers', function () {
  it('reads dpkg status with sources: every package whose files are on disk, not those removed', function () {
    const status = [
      'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl (3.0.11-1~deb12u2)\nVersion: 3.0.11-1~deb12u2+b1\nDescription: x\n continued line\n',
      'Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\n',
      'Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n',
      'Package: never\nStatus: purge ok not-installed\nVersion: 1.0\n',
      // Files on disk, dpkg not done with them: a failed postinst, triggers not run, an unpack cut short.
      'Package: openssl\nStatus: install ok unpacked\nVersion: 3.0.11-1~deb12u2\n',
      'Package: curl\nStatus: install ok half-configured\nVersion: 7.88.1-10\n',
      'Package: libc-bin\nStatus: install ok triggers-pending\nVersion: 2.36-9\n',
      'Package: man-db\nStatus: install ok triggers-awaited\nVersion: 2.11.2-2\n',
      'Package: tar\nStatus: install reinstreq half-installed\nVersion: 1.34\n',
    ].join('\n');
    assert.deepEqual(parseDpkgStatus(status, true), [
      { name: 'libssl3', version: '3.0.11-1~deb12u2+b1', source: 'openssl', sourceVersion: '3.0.11-1~deb12u2', arch: 'amd64' },
      { name: 'bash', version: '5.2.15-2+b2' },
      { name: 'openssl', version: '3.0.11-1~deb12u2' },
      { name: 'curl', version: '7.88.1-10' },
      { name: 'libc-bin', version: '2.36-9' },
      { name: 'man-db', version: '2.11.2-2' },
      { name: 'tar', version: '1.34' },
    ]);
    assert.equal(parseDpkgStatus('Package: base-files\nVersion: 12.4\nArchitecture: amd64\n', false).length, 1, 'distroless status.d entries have no Status');
  });

  it('reads apk, npm, Python metadata and os-release', function () {
    assert.deepEqual(parseApkInstalled('C:Q1x\nP:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nP:busybox\nV:1.36.1-r5\n'), [
      { name: 'musl', version: '1.2.4-r2', source: 'musl', sourceVersion: '1.2.4-r2', arch: 'x86_64' },
      { name: 'busybox', version: '1.36.1-r5' },
    ]);
    assert.deepEqual(parseNpmPackageJson('{"name":"lodash","version":"4.17.20"}'), { name: 'lodash', version: '4.17.20' });
    assert.equal(parseNpmPackageJson('{"name":"x"}'), undefined);
    assert.deepEqual(parsePythonMetadata('Metadata-Version: 2.1\nName: Requests\nVersion: 2.25.0\n\nVersion: 9 (in the body)'), { name: 'Requests', version: '2.25.0' });
    assert.deepEqual(parseOsRelease('PRETTY_NAME="Alpine Linux v3.19"\nID=alpine\nVERSION_ID=3.19.1\n'), { id: 'alpine', versionId: '3.19.1', prettyName: 'Alpine Linux v3.19' });
  });
});
