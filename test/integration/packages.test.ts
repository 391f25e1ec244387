import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { check } from '../../src/index.js';
import { buildImage, pushImage } from '../harness/images.js';
import type { TestEntry } from '../helpers/tar-writer.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { rulesWithoutFeeds } from '../harness/rules.js';


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
    const report = await check(`${registry.host}/pkg/app:v1`, { osv: [dir], rules: await rulesWithoutFeeds(), now: new Date('2026-11-23T00:00:00Z') });
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

  // A reader finds a package source where its path leads; one written under another name and reached through
  // a link was not recognised as the layers streamed, and the image passed with no packages at all.
  const status = 'Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.0-1\n\n';
  const debian = { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' };
  const hidden: Array<[string, TestEntry[][], string]> = [
    ['/var/lib/dpkg a symlink', [[debian, { name: 'opt/x/status', content: status }, { name: 'var/lib/dpkg', type: 'symlink', linkname: '/opt/x' }]], '/var/lib/dpkg/status'],
    ['status a hard link', [[debian, { name: 'opt/x/status', content: status }, { name: 'var/lib/dpkg/status', type: 'hardlink', linkname: 'opt/x/status' }]], '/var/lib/dpkg/status'],
    ['status.d a symlink (distroless), made by a later layer', [[debian, { name: 'opt/x/openssl', content: status }], [{ name: 'var/lib/dpkg/status.d', type: 'symlink', linkname: '../../../opt/x' }]], '/var/lib/dpkg/status.d/openssl'],
    ['/lib/apk a symlink', [[{ name: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.18.4\n' }, { name: 'opt/a/db/installed', content: 'P:openssl\nV:3.0.0-r1\n\n' }, { name: 'lib/apk', type: 'symlink', linkname: '../opt/a' }]], '/lib/apk/db/installed'],
    ['node_modules a symlink', [[{ name: 'opt/nm/openssl/package.json', content: '{"name":"openssl","version":"3.0.0-1"}' }, { name: 'app/node_modules', type: 'symlink', linkname: '/opt/nm' }]], '/app/node_modules/openssl/package.json'],
    ['a package.json that is a symlink', [[{ name: 'opt/pj', content: '{"name":"openssl","version":"3.0.0-1"}' }, { name: 'app/node_modules/openssl/package.json', type: 'symlink', linkname: '/opt/pj' }]], '/app/node_modules/openssl/package.json'],
    ['gem specifications a symlink', [[{ name: 'opt/specs/openssl-3.0.0.gemspec', content: '# gem' }, { name: 'usr/local/bundle/specifications', type: 'symlink', linkname: '/opt/specs' }]], '/usr/local/bundle/specifications/openssl-3.0.0.gemspec'],
  ];
  for (const [how, layers, where] of hidden) {
    it(`reads a package source reached through a link: ${how}`, async function () {
      const image = await buildImage({ layers: layers.map((entries) => ({ entries })) });
      const tag = `v${hidden.findIndex(([h]) => h === how)}`;
      await pushImage(registry.host, 'pkg/hidden', tag, image);
      const report = await check(`${registry.host}/pkg/hidden:${tag}`, { rules: await rulesWithoutFeeds() });
      assert.notEqual(report.verdict, 'error', report.error?.message);
      assert.deepEqual(report.inventory?.packages.map((p) => `${p.name}@${p.version} ${p.path}`), [`openssl@${where.includes('apk') ? '3.0.0-r1' : where.includes('gemspec') ? '3.0.0' : '3.0.0-1'} ${where}`]);
    });
  }

  it('says when a release has no package database (its packages cannot be checked), without blocking', async function () {
    const image = await buildImage({ layers: [{ entries: [{ name: 'etc/os-release', content: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' }, { name: 'usr/bin/openssl', content: 'ELF', mode: 0o755 }] }] });
    await pushImage(registry.host, 'pkg/nodb', 'v1', image);
    const report = await check(`${registry.host}/pkg/nodb:v1`, { rules: await rulesWithoutFeeds() });
    const missing = report.findings.filter((f) => f.rule === 'os-packages-missing');
    assert.deepEqual(missing.map((f) => [f.check, f.severity, f.blocking]), [['inventory', 'medium', false]]);
    assert.match(missing[0]?.message ?? '', /Debian GNU\/Linux 12 \(bookworm\) but no deb package is listed/);
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

/** A minimal ELF file carrying Go 1.18+ build information, as Go's linker lays it out. */
function syntheticGoBinary(goVersion: string, modinfo: string): Buffer {
  const varint = (n: number): Buffer => {
    const out: number[] = [];
    let v = n;
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
    return Buffer.from(out);
  };
  const header = Buffer.alloc(32);
  header.write('\xff Go buildinf:', 0, 'latin1');
  header[14] = 8;
  header[15] = 2;
  const sentinel = Buffer.from('3077af0c9274080241e1c107e6d618e6', 'hex');
  const info = Buffer.concat([sentinel, Buffer.from(modinfo), sentinel]);
  return Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(70_000, 0x90), header, varint(goVersion.length), Buffer.from(goVersion), varint(info.length), info, Buffer.alloc(1000)]);
}

describe('Go binaries in an image @integration', function () {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => registry?.stop());

  it('reads the toolchain and modules of Go binaries as they stream, a real one included', async function () {
    const { readFile } = await import('node:fs/promises');
    const { which } = await import('../harness/process.js');
    const real = (await which('umoci')) ? await readFile('/usr/bin/umoci') : undefined;
    const synthetic = syntheticGoBinary(
      'go1.21.3',
      'path\texample.com/app/cmd/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/net\tv0.10.0\th1:abc=\ndep\tgithub.com/old/dep\tv1.0.0\th1:x=\n=>\tgithub.com/fork/dep\tv1.0.1\th1:y=\nbuild\tGOOS=linux\n',
    );
    const image = await buildImage({
      layers: [
        {
          entries: [
            { name: 'usr/local/bin/app', content: synthetic, mode: 0o755 },
            ...(real ? [{ name: 'usr/bin/umoci', content: real, mode: 0o755 }] : []),
            { name: 'usr/local/bin/script.sh', content: `#!/bin/sh\n${'echo hi\n'.repeat(1000)}`, mode: 0o755 },
          ],
        },
      ],
    });
    await pushImage(registry.host, 'go/app', 'v1', image);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-go-osv-'));
    try {
      await writeFile(
        path.join(dir, 'go.json'),
        JSON.stringify([
          { id: 'GO-TEST-net', modified: '2026-01-01T00:00:00Z', database_specific: { severity: 'HIGH' }, affected: [{ package: { ecosystem: 'Go', name: 'golang.org/x/net' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '0.17.0' }] }] }] },
          { id: 'GO-TEST-std', modified: '2026-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'Go', name: 'stdlib' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '1.21.0' }, { fixed: '1.21.4' }] }] }] },
        ]),
      );
      const report = await check(`${registry.host}/go/app:v1`, { osv: [dir] });
      assert.notEqual(report.verdict, 'error', report.error?.message);
      const go = report.inventory?.packages.filter((p) => p.ecosystem === 'golang').map((p) => `${p.path} ${p.name}@${p.version}`);
      assert.deepEqual(go, [
        '/usr/local/bin/app github.com/fork/dep@v1.0.1',
        '/usr/local/bin/app golang.org/x/net@v0.10.0',
        '/usr/local/bin/app stdlib@1.21.3',
        ...(real ? ['/usr/bin/umoci stdlib@1.19.8'] : []),
      ].sort((a, b) => a.split(' ')[1]!.localeCompare(b.split(' ')[1]!) || a.localeCompare(b)));
      const vulns = report.findings.filter((f) => f.check === 'vulnerable-package').map((f) => `${f.rule} ${f.path} ${f.package?.fixedVersion}`);
      assert.deepEqual(vulns.sort(), ['GO-TEST-net /usr/local/bin/app 0.17.0', 'GO-TEST-std /usr/local/bin/app 1.21.4']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Java archives in an image @integration', function () {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => registry?.stop());

  it('reads pom.properties of jars made by Python’s zipfile, nested Spring Boot style jars included', async function () {
    const { run } = await import('../harness/process.js');
    const { readFile } = await import('node:fs/promises');
    const work = await mkdtemp(path.join(os.tmpdir(), 'imggate-jar-'));
    try {
      const script = `
import zipfile, io, sys
def jar(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in entries: z.writestr(name, data)
    return buf.getvalue()
inner = jar([('META-INF/maven/org.yaml/snakeyaml/pom.properties', 'version=1.33\\ngroupId=org.yaml\\nartifactId=snakeyaml\\n'), ('org/yaml/X.class', b'\\xca\\xfe')])
outer = jar([('META-INF/MANIFEST.MF', 'Main-Class: app\\n'), ('META-INF/maven/com.example/app/pom.properties', 'groupId=com.example\\nartifactId=app\\nversion=2.0.0\\n'), ('BOOT-INF/lib/snakeyaml-1.33.jar', inner)])
open(sys.argv[1], 'wb').write(outer)
`;
      const file = path.join(work, 'app.jar');
      const r = await run('python3', ['-c', script, file]);
      assert.equal(r.code, 0, r.stderr);
      const bytes = await readFile(file);
      // The same jar cut short: its packages are unknown, and the report says so.
      const image = await buildImage({ layers: [{ entries: [{ name: 'app/app.jar', content: bytes }, { name: 'app/cut.jar', content: bytes.subarray(0, bytes.length - 40) }] }] });
      await pushImage(registry.host, 'java/app', 'v1', image);
      await writeFile(
        path.join(work, 'maven.json'),
        JSON.stringify({ id: 'GHSA-snakeyaml', modified: '2026-01-01T00:00:00Z', database_specific: { severity: 'HIGH' }, affected: [{ package: { ecosystem: 'Maven', name: 'org.yaml:snakeyaml' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0' }] }] }] }),
      );
      const report = await check(`${registry.host}/java/app:v1`, { osv: [work] });
      assert.deepEqual(report.inventory?.packages.map((p) => `${p.ecosystem}:${p.name}@${p.version} ${p.path}`), [
        'maven:com.example:app@2.0.0 /app/app.jar',
        'maven:org.yaml:snakeyaml@1.33 /app/app.jar',
      ]);
      const incomplete = report.findings.filter((f) => f.rule === 'inventory-incomplete');
      assert.deepEqual(
        incomplete.map((f) => [f.path, f.message]),
        [['/app/cut.jar', '/app/cut.jar: it has no zip end-of-central-directory record (not a zip, or cut short); the packages inside it may not all be listed']],
      );
      const vuln = report.findings.find((f) => f.check === 'vulnerable-package');
      assert.equal(vuln?.package?.fixedVersion, '2.0');
      assert.equal(vuln?.package?.name, 'org.yaml:snakeyaml');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('rpm databases in an image @integration', function () {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => registry?.stop());

  it('lists the packages of an rpmdb.sqlite made by the real rpm, and says when a database cannot be read', async function () {
    const { run, which } = await import('../harness/process.js');
    const { readFile, mkdir } = await import('node:fs/promises');
    if (!(await which('rpmbuild'))) this.skip();
    const top = await mkdtemp(path.join(os.tmpdir(), 'imggate-rpm-'));
    try {
      for (const d of ['SPECS', 'RPMS', 'BUILD', 'SOURCES', 'SRPMS', 'db']) await mkdir(path.join(top, d));
      const specs: Array<[string, string]> = [
        ['hello', 'Name: hello-tool\nVersion: 1.2.3\nRelease: 4.fc39\nEpoch: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\n%description\nt\n%files\n'],
        ['lib', 'Name: libthing\nVersion: 0.9\nRelease: 1.fc39\nSummary: t\nLicense: MIT\nBuildArch: noarch\n%description\nt\n%files\n'],
      ];
      const define = ['--define', `_topdir ${top}`, '--define', '_db_backend sqlite', '--define', `_dbpath ${path.join(top, 'db')}`];
      for (const [name, spec] of specs) {
        await writeFile(path.join(top, 'SPECS', `${name}.spec`), spec);
        const built = await run('rpmbuild', [...define, '-bb', path.join(top, 'SPECS', `${name}.spec`)]);
        assert.equal(built.code, 0, built.stderr);
      }
      assert.equal((await run('rpm', [...define, '--initdb'])).code, 0);
      const { readdir } = await import('node:fs/promises');
      const rpms = (await readdir(path.join(top, 'RPMS', 'noarch'))).map((f) => path.join(top, 'RPMS', 'noarch', f));
      const installed = await run('rpm', [...define, '-i', '--justdb', '--nodeps', ...rpms]);
      assert.equal(installed.code, 0, installed.stderr);
      const db = await readFile(path.join(top, 'db', 'rpmdb.sqlite'));
      const image = await buildImage({
        layers: [
          {
            entries: [
              { name: 'etc/os-release', content: 'ID=fedora\nVERSION_ID=39\nPRETTY_NAME="Fedora Linux 39"\n' },
              { name: 'usr/lib/sysimage/rpm/rpmdb.sqlite', content: db },
            ],
          },
        ],
      });
      await pushImage(registry.host, 'rpm/app', 'v1', image);
      const report = await check(`${registry.host}/rpm/app:v1`, { rules: await rulesWithoutFeeds() });
      assert.notEqual(report.verdict, 'error', report.error?.message);
      assert.deepEqual(report.inventory?.packages.map((p) => `${p.ecosystem}:${p.name}@${p.version} ${p.arch}`), ['rpm:hello-tool@1:1.2.3-4.fc39 noarch', 'rpm:libthing@0.9-1.fc39 noarch']);

      // The same database where a link leads rpm to it.
      const linked = await buildImage({
        layers: [
          {
            entries: [
              { name: 'etc/os-release', content: 'ID=fedora\nVERSION_ID=39\n' },
              { name: 'opt/rpmdb/rpmdb.sqlite', content: db },
              { name: 'usr/lib/sysimage/rpm', type: 'symlink', linkname: '/opt/rpmdb' },
            ],
          },
        ],
      });
      await pushImage(registry.host, 'rpm/linked', 'v1', linked);
      const through = await check(`${registry.host}/rpm/linked:v1`, { rules: await rulesWithoutFeeds() });
      assert.notEqual(through.verdict, 'error', through.error?.message);
      assert.deepEqual(through.inventory?.packages.map((p) => `${p.name} ${p.path}`), ['hello-tool /usr/lib/sysimage/rpm/rpmdb.sqlite', 'libthing /usr/lib/sysimage/rpm/rpmdb.sqlite']);

      const legacy = await buildImage({ layers: [{ entries: [{ name: 'var/lib/rpm/Packages', content: Buffer.alloc(8192, 0x61) }] }] });
      await pushImage(registry.host, 'rpm/legacy', 'v1', legacy);
      const old = await check(`${registry.host}/rpm/legacy:v1`);
      assert.equal(old.findings.find((f) => f.check === 'inventory')?.rule, 'inventory-incomplete');
    } finally {
      await rm(top, { recursive: true, force: true });
    }
  });
});

describe('OSV advisories imported into the store @integration', function () {
  it('imports a zip of OSV records with feeds update, matches from the store, and is inconclusive before the import', async function () {
    const { run } = await import('../harness/process.js');
    const { writeOciLayout } = await import('../harness/images.js');
    const { imggate } = await import('../harness/cli.js');
    const work = await mkdtemp(path.join(os.tmpdir(), 'imggate-osvzip-'));
    try {
      const record = JSON.stringify({ id: 'GHSA-zip-lodash', modified: '2026-01-01T00:00:00Z', database_specific: { severity: 'CRITICAL' }, affected: [{ package: { ecosystem: 'npm', name: 'lodash' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }] }] });
      const zip = path.join(work, 'all.zip');
      const made = await run('python3', ['-c', 'import zipfile,sys\nwith zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED) as z: z.writestr("GHSA-zip-lodash.json", sys.argv[2])', zip, record]);
      assert.equal(made.code, 0, made.stderr);
      const image = await buildImage({ layers: [{ entries: [{ name: 'app/node_modules/lodash/package.json', content: '{"name":"lodash","version":"4.17.15"}' }] }] });
      await writeOciLayout(path.join(work, 'img'), 'v1', image);
      const config = path.join(work, 'imggate.yaml');
      await writeFile(config, `store:\n  dir: ${path.join(work, 'store')}\nfeeds:\n  osv: [${zip}]\n`);
      const before = await imggate(['check', '--format', 'json', '--config', config, `oci:${path.join(work, 'img')}:v1`]);
      assert.equal(before.code, 2, 'configured but never imported: inconclusive');
      const update = await imggate(['feeds', 'update', '--config', config]);
      assert.equal(update.code, 0, update.stderr);
      assert.match(update.stdout, /^osv: 1 advisories imported, digest sha256:[a-f0-9]{64}/m);
      const after = await imggate(['check', '--format', 'json', '--config', config, `oci:${path.join(work, 'img')}:v1`]);
      const report = JSON.parse(after.stdout) as { findings: Array<{ rule: string; severity: string }>; feeds: Array<{ kind: string; fetchedAt?: string }> };
      assert.equal(after.code, 1);
      assert.deepEqual(report.findings.filter((f) => f.rule === 'GHSA-zip-lodash').map((f) => f.severity), ['critical']);
      assert.ok(report.feeds.find((f) => f.kind === 'osv')?.fetchedAt);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
