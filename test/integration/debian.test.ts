import assert from 'node:assert/strict';
import { imggate } from '../harness/cli.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { debianImage, debianRootfs, dpkgPackageCount, type DebianImage } from '../harness/debian.js';
import { skopeoCopy } from '../harness/images.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import type { Report } from '../../src/report/types.js';
import { rulesWithoutFeeds } from '../harness/rules.js';

/** Feeds have their own tests: these run offline under the policy of a user without them. */
let noFeedsArgs: string[] | undefined;
async function noFeeds(): Promise<string[]> {
  noFeedsArgs ??= ['--offline', '--rules', await rulesWithoutFeeds()];
  return noFeedsArgs;
}

describe('a real debootstrap minbase Debian image @integration', function () {
  this.timeout(15 * 60_000);
  let registry: TestRegistry;
  let image: DebianImage | undefined;

  before(async function () {
    image = await debianImage();
    if (!image) {
      // Needs root and debootstrap; .ci/run provides both. Say so rather than pass silently.
      console.warn('    debootstrap unavailable (needs root and the debootstrap package): skipping');
      this.skip();
    }
    registry = await startRegistry();
    await skopeoCopy(`oci:${image.layout}:minbase`, `docker://${registry.host}/debian/minbase:bookworm`);
  });
  after(async () => registry?.stop());

  it('is pulled from the registry (pushed there by skopeo), streamed and reported', async function () {
    const r = await imggate(['check', ...(await noFeeds()), '--format', 'json', `${registry.host}/debian/minbase:bookworm`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.verdict, 'fail');
    // What blocks is exactly what this test image adds to stock Debian: no USER, and a dropped-in setuid helper.
    assert.deepEqual(report.findings.filter((f) => f.blocking).map((f) => `${f.rule} ${f.path ?? ''}`).sort(), ['root-user ', 'setuid-unpackaged /usr/local/bin/helper']);
    // Debian ships test keys in libgnutls and .netrc examples in apt_auth.conf(5): found, and vouched for by
    // dpkg's md5sums, so reported without blocking; the man pages a later layer removed still ship, and still
    // are the packaged bytes.
    const secrets = report.findings.filter((f) => f.check === 'secret');
    assert.deepEqual([...new Set(secrets.map((f) => `${f.rule} ${f.severity} ${f.blocking}`))], ['secret-packaged low false'], JSON.stringify(secrets, null, 1));
    assert.ok(secrets.some((f) => f.path?.startsWith('/usr/lib/x86_64-linux-gnu/libgnutls.so') && /packaged by libgnutls30:amd64 and unchanged$/.test(f.message)));
    assert.ok(secrets.some((f) => f.path === '/usr/share/man/man5/apt_auth.conf.5.gz' && f.inFinalFilesystem === false && /packaged by apt and unchanged$/.test(f.message)));
    // skopeo keeps the layer blobs as they are, so the manifest digest is the one we built.
    assert.deepEqual(report.image.layers?.map((l) => l.digest), image?.layerDigests);
    const base = report.image.layers?.[0];
    assert.ok(base && base.entries > 5000, `base layer has ${base?.entries} entries`);
    assert.ok(base.uncompressedSize > 100 * 1024 * 1024);
    const suid = report.findings.filter((f) => f.check === 'setuid' && f.inFinalFilesystem);
    assert.ok(suid.some((f) => f.path === '/usr/bin/passwd'), 'passwd is setuid in Debian');
    assert.ok(suid.every((f) => f.layer === image?.layerDigests[0] || f.path === '/usr/local/bin/helper'));
    assert.ok(suid.filter((f) => f.path !== '/usr/local/bin/helper').every((f) => f.rule === 'setuid-packaged' && f.severity === 'low'), 'Debian’s own setuid files are recognised as packaged');
    const helper = report.findings.find((f) => f.path === '/usr/local/bin/helper');
    assert.equal(helper?.createdBy, 'COPY helper /usr/local/bin/helper');
  });

  it('passes as stock Debian with a non-root USER: its own setuid files and the secrets in its own files are packaged', async function () {
    await skopeoCopy(`oci:${image?.layout}:minbase-nonroot`, `docker://${registry.host}/debian/minbase:nonroot`);
    const r = await imggate(['check', ...(await noFeeds()), '--format', 'json', `${registry.host}/debian/minbase:nonroot`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.verdict, 'pass');
    assert.deepEqual(report.findings.filter((f) => f.blocking), []);
    assert.ok(report.findings.filter((f) => f.check === 'setuid').length >= 8);
    const secrets = report.findings.filter((f) => f.check === 'secret');
    assert.ok(secrets.length > 0 && secrets.every((f) => f.rule === 'secret-packaged' && !f.blocking), 'only what dpkg vouches for, reported without blocking');
  });

  it('is fully inventoried: as many packages as dpkg-query lists in the rootfs, with os-release', async function () {
    const r = await imggate(['check', ...(await noFeeds()), '--format', 'json', `oci:${image?.layout}:minbase`]);
    const report = JSON.parse(r.stdout) as Report;
    const rootfs = (await debianRootfs()) as string;
    const expected = await dpkgPackageCount(rootfs);
    const debs = report.inventory?.packages.filter((p) => p.ecosystem === 'deb') ?? [];
    assert.equal(debs.length, expected);
    assert.ok(expected > 50);
    assert.equal(report.inventory?.os?.id, 'debian');
    assert.equal(report.inventory?.os?.versionId, '12');
    assert.ok(debs.every((p) => p.layerIndex === 0 && p.path === '/var/lib/dpkg/status'));
    assert.ok(debs.some((p) => p.name === 'libc6' && p.source === 'glibc'));
  });

  it('flags packages that OSV advisories cover, with the fixed version, and only those', async function () {
    const r = await imggate(['check', ...(await noFeeds()), '--format', 'json', `oci:${image?.layout}:minbase-nonroot`]);
    const debs = (JSON.parse(r.stdout) as Report).inventory?.packages ?? [];
    const bash = debs.find((p) => p.name === 'bash');
    const tar = debs.find((p) => p.name === 'tar');
    const libc = debs.find((p) => p.name === 'libc6');
    assert.ok(bash && tar && libc);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-osv-'));
    try {
      const osv = (id: string, name: string, events: object[], severity?: string): object => ({
        id,
        modified: '2026-11-01T00:00:00Z',
        aliases: [`CVE-2026-${id.slice(-4)}`],
        affected: [{ package: { ecosystem: 'Debian:12', name }, ranges: [{ type: 'ECOSYSTEM', events }] }],
        ...(severity ? { database_specific: { severity } } : {}),
      });
      const bashVersion = bash.sourceVersion ?? bash.version;
      await writeFile(path.join(dir, 'a.json'), JSON.stringify(osv('TEST-0001', 'bash', [{ introduced: '0' }, { fixed: `${bashVersion}+deb12u9` }], 'HIGH')));
      await writeFile(path.join(dir, 'b.json'), JSON.stringify(osv('TEST-0002', 'tar', [{ introduced: '0' }, { fixed: '1.0-1' }])));
      await writeFile(path.join(dir, 'c.json'), JSON.stringify([osv('TEST-0003', 'glibc', [{ introduced: '0' }, { last_affected: libc.sourceVersion ?? libc.version }], 'low')]));
      const checked = await imggate(['check', ...(await noFeeds()), '--format', 'json', '--osv', dir, `oci:${image?.layout}:minbase-nonroot`]);
      const report = JSON.parse(checked.stdout) as Report;
      assert.equal(checked.code, 1, 'a high-severity vulnerable package blocks');
      const vulns = report.findings.filter((f) => f.check === 'vulnerable-package');
      assert.deepEqual(vulns.map((f) => `${f.rule} ${f.package?.name}`).sort(), ['TEST-0001 bash', 'TEST-0003 libc-bin', 'TEST-0003 libc6']);
      const b = vulns.find((f) => f.rule === 'TEST-0001');
      assert.equal(b?.package?.fixedVersion, `${bashVersion}+deb12u9`);
      assert.equal(b?.severity, 'high');
      assert.equal(b?.blocking, true);
      assert.equal(vulns.find((f) => f.package?.name === 'libc6')?.package?.fixedVersion, undefined);
      assert.equal(report.feeds?.length, 1);
      assert.deepEqual({ ...report.feeds?.[0], digest: undefined }, { kind: 'osv', sources: [dir], records: 3, digest: undefined });
      assert.match(report.feeds?.[0]?.digest ?? '', /^sha256:[a-f0-9]{64}$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the same image from its OCI layout with the same findings', async function () {
    const fromRegistry = await imggate(['check', ...(await noFeeds()), '--format', 'json', `${registry.host}/debian/minbase:bookworm`]);
    const fromLayout = await imggate(['check', ...(await noFeeds()), '--format', 'json', `oci:${image?.layout}:minbase`]);
    const strip = (r: Report) => r.findings.map((f) => `${f.check} ${f.path} ${f.layer} ${f.inFinalFilesystem}`);
    assert.deepEqual(strip(JSON.parse(fromLayout.stdout) as Report), strip(JSON.parse(fromRegistry.stdout) as Report));
  });
});
