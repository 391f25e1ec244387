import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { check } from '../../src/index.js';
import { buildImage, pushImage } from '../harness/images.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';

describe('package inventory and advisories on an image in a real registry @integration', function () {
  let registry: TestRegistry;
  let dir: string;
  before(async function () {
    registry = await startRegistry();
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-pkg-'));
    const osv = (id: string, ecosystem: string, name: string, type: string, events: object[]): object => ({
      id,
      modified: '2026-01-01T00:00:00Z',
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N' }],
      affected: [{ package: { ecosystem, name }, ranges: [{ type, events }] }],
    });
    await writeFile(
      path.join(dir, 'all.json'),
      JSON.stringify([
        osv('GHSA-lodash', 'npm', 'lodash', 'SEMVER', [{ introduced: '0' }, { fixed: '4.17.21' }]),
        osv('PYSEC-requests', 'PyPI', 'Requests', 'ECOSYSTEM', [{ introduced: '2.0' }, { fixed: '2.31.0' }]),
        osv('GHSA-rack', 'RubyGems', 'rack', 'ECOSYSTEM', [{ introduced: '2.0' }, { fixed: '2.2.8.1' }]),
        osv('ALPINE-musl', 'Alpine:v3.18', 'musl', 'ECOSYSTEM', [{ introduced: '0' }, { fixed: '1.2.4-r3' }]),
        osv('GHSA-old-express', 'npm', 'express', 'SEMVER', [{ introduced: '0' }, { fixed: '4.0.0' }]),
      ]),
    );
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists OS, apk and language packages from the final filesystem and matches them', async function () {
    const image = await buildImage({
      layers: [
        {
          entries: [
            { name: 'etc/os-release', content: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME="Alpine Linux v3.18"\n' },
            { name: 'lib/apk/db/installed', content: 'P:musl\nV:1.2.4-r2\no:musl\nA:x86_64\n\nP:busybox\nV:1.36.1-r2\no:busybox\n\n' },
            { name: 'app/node_modules/lodash/package.json', content: '{"name":"lodash","version":"4.17.20"}' },
            { name: 'app/node_modules/@types/node/package.json', content: '{"name":"@types/node","version":"20.1.0"}' },
            { name: 'app/node_modules/express/package.json', content: '{"name":"express","version":"4.18.2"}' },
            { name: 'usr/lib/python3.11/site-packages/requests-2.25.0.dist-info/METADATA', content: 'Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n' },
            { name: 'usr/local/bundle/specifications/rack-2.2.3.gemspec', content: '# gem' },
            { name: 'opt/old/node_modules/left-pad/package.json', content: '{"name":"left-pad","version":"1.0.0"}' },
          ],
        },
        { entries: [{ name: 'opt/.wh.old' }] },
      ],
    });
    await pushImage(registry.host, 'pkg/app', 'v1', image);
    const report = await check(`${registry.host}/pkg/app:v1`, { osv: [dir], now: new Date('2026-11-23T00:00:00Z') });
    assert.notEqual(report.verdict, 'error', report.error?.message);
    const inv = report.inventory;
    assert.equal(inv?.os?.id, 'alpine');
    assert.deepEqual(
      inv?.packages.map((p) => `${p.ecosystem}:${p.name}@${p.version}`),
      ['apk:busybox@1.36.1-r2', 'apk:musl@1.2.4-r2', 'gem:rack@2.2.3', 'npm:@types/node@20.1.0', 'npm:express@4.18.2', 'npm:lodash@4.17.20', 'pypi:requests@2.25.0'],
      'left-pad was deleted by a later layer',
    );
    const vulns = report.findings.filter((f) => f.check === 'vulnerable-package');
    assert.deepEqual(vulns.map((f) => `${f.rule}:${f.package?.fixedVersion}`).sort(), ['ALPINE-musl:1.2.4-r3', 'GHSA-lodash:4.17.21', 'GHSA-rack:2.2.8.1', 'PYSEC-requests:2.31.0']);
    assert.ok(vulns.every((f) => f.severity === 'high' && f.blocking), 'CVSS 7.5 is high and blocks');
    assert.equal(vulns.find((f) => f.rule === 'GHSA-lodash')?.path, '/app/node_modules/lodash/package.json');
    const eol = report.findings.find((f) => f.check === 'eol-distro');
    assert.equal(eol?.rule, 'eol-distro');
    assert.match(eol?.message ?? '', /Alpine Linux v3\.18 reached its end of life on 2025-05-09/);
    assert.equal(eol?.blocking, true);
    assert.equal(report.verdict, 'fail');
  });

  it('refuses an OSV directory with a malformed record, naming the file', async function () {
    const bad = path.join(dir, 'bad');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(bad);
    await writeFile(path.join(bad, 'x.json'), JSON.stringify({ id: 'X', affected: 'nope' }));
    const report = await check(`${registry.host}/pkg/app:v1`, { osv: [bad] });
    assert.equal(report.verdict, 'error');
    assert.match(report.error?.message ?? '', /x\.json is not an OSV record: .*modified/);
  });
});
