import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { readAptSources } from '../../src/feeds/host-sources.js';
import type { Report } from '../../src/report/types.js';
import { imggate } from '../harness/cli.js';
import { CACHE_DIR } from '../harness/debian.js';
import { sha256 } from '../harness/images.js';
import { run, which } from '../harness/process.js';

/** The host's Debian archive, as apt on this machine (and CI's) names it: never a host name in code. */
async function hostMirror(): Promise<string | undefined> {
  const sources = await readAptSources('/etc/apt');
  return sources.find((s) => /^[a-z]+$/.test(s.suite) && sources.some((o) => o.uri === s.uri && o.suite === `${s.suite}-updates`))?.uri;
}

/**
 * A real `debootstrap --variant=minbase` of an older release (bullseye: its last point release, with
 * none of the security updates published since) packed as a one-layer OCI layout; cached.
 */
async function olderReleaseImage(mirror: string): Promise<string | undefined> {
  const suite = 'bullseye';
  const rootfs = path.join(CACHE_DIR, `rootfs-${suite}-minbase`);
  const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);
  if (!(await exists(path.join(rootfs, 'var/lib/dpkg/status')))) {
    if (!(await which('debootstrap')) || process.getuid?.() !== 0) return undefined;
    const partial = `${rootfs}.partial-${process.pid}`;
    await mkdir(CACHE_DIR, { recursive: true });
    const r = await run('debootstrap', ['--variant=minbase', suite, partial, mirror]);
    if (r.code !== 0) throw new Error(`debootstrap ${suite} failed: ${r.stderr.slice(-2000)}`);
    await rename(partial, rootfs).catch(async () => rm(partial, { recursive: true, force: true }));
  }
  const layout = path.join(CACHE_DIR, `layout-${suite}-minbase`);
  if (await exists(path.join(layout, 'index.json'))) return layout;
  const partial = `${layout}.partial-${process.pid}`;
  await mkdir(path.join(partial, 'blobs', 'sha256'), { recursive: true });
  const layerFile = path.join(partial, 'layer.tar.gz');
  const isNode = (st: { isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): boolean => st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO() || st.isSocket();
  await tar.c({ gzip: true, cwd: rootfs, file: layerFile, filter: (_p, st) => !('isCharacterDevice' in st) || !isNode(st) }, ['.']);
  const { readFile } = await import('node:fs/promises');
  const { gunzipSync } = await import('node:zlib');
  const layer = await readFile(layerFile);
  await rm(layerFile);
  await writeFile(path.join(partial, 'blobs', 'sha256', sha256(layer).slice(7)), layer);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { User: 'nobody' }, rootfs: { type: 'layers', diff_ids: [sha256(gunzipSync(layer))] }, history: [{ created_by: `debootstrap --variant=minbase ${suite}` }] }));
  await writeFile(path.join(partial, 'blobs', 'sha256', sha256(config).slice(7)), config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: (await stat(path.join(partial, 'blobs', 'sha256', sha256(layer).slice(7)))).size }],
  }));
  await writeFile(path.join(partial, 'blobs', 'sha256', sha256(manifest).slice(7)), manifest);
  await writeFile(path.join(partial, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(path.join(partial, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'minbase' } }] }));
  await rename(partial, layout).catch(async () => rm(partial, { recursive: true, force: true }));
  return layout;
}

/**
 * The real Debian archive this machine's apt uses (CI reaches it too): `imggate feeds update` with no
 * configuration, then a check of a real bullseye image on this bookworm host with no imggate.yaml —
 * judged by bullseye, bullseye-updates and bullseye-security of the same mirrors, verified with the
 * host's keyrings. Its outdated packages are whatever the archive says today, so the test asserts
 * what must hold for any day: findings exist, each names a newer version from a bullseye suite that
 * dpkg itself orders above the installed one.
 */
describe('feeds from the real Debian archive, with no configuration @integration', function () {
  this.timeout(30 * 60_000);
  let mirror: string | undefined;
  let layout: string | undefined;
  let dir: string;
  const env = (): NodeJS.ProcessEnv => ({ XDG_DATA_HOME: path.join(dir, 'data') });

  before(async function () {
    mirror = await hostMirror();
    if (!mirror) {
      console.warn('    this host has no Debian archive in its apt sources: skipping');
      this.skip();
    }
    layout = await olderReleaseImage(mirror);
    if (!layout) {
      console.warn('    debootstrap unavailable (needs root and the debootstrap package): skipping');
      this.skip();
    }
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-feeds-real-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('feeds update fetches bookworm, -updates and -security (.xz, verified), with no imggate.yaml', async function () {
    const r = await imggate(['feeds', 'update'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    for (const suite of ['bookworm', 'bookworm-updates', 'bookworm-security']) {
      assert.match(r.stdout, new RegExp(`^${suite}: \\d+ packages, InRelease sha256:[a-f0-9]{64}, signature verified, archive dated `, 'm'));
    }
    assert.match(r.stdout, /^bookworm-security: .*valid until /m);
  });

  it('a check of a bullseye image with no configuration reports its outdated packages from bullseye suites', async function () {
    const r = await imggate(['check', '--format', 'json', '--no-attest', `oci:${layout}:minbase`], { env: env() });
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.inventory?.os?.codename, 'bullseye');
    assert.deepEqual(report.findings.filter((f) => f.check === 'feed'), [], 'every feed fetched and verified');
    assert.deepEqual(report.feeds?.map((f) => f.sources[0]?.replace(/^.*dists\//, '')), ['bullseye', 'bullseye-updates', 'bullseye-security']);
    assert.ok(report.feeds?.every((f) => f.verified && f.date && f.fetchedAt));
    const outdated = report.findings.filter((f) => f.check === 'outdated-package');
    assert.ok(outdated.length > 0, 'bullseye’s last point release has had security updates since');
    assert.ok(outdated.some((f) => f.rule === 'security-update' && f.blocking));
    assert.equal(r.code, 1);
    for (const f of outdated.slice(0, 20)) {
      assert.match(f.package?.fixedIn ?? '', /^bullseye(-updates|-security)?$/);
      const newer = await run('dpkg', ['--compare-versions', f.package?.fixedVersion ?? '', 'gt', f.package?.version ?? '']);
      assert.equal(newer.code, 0, `${f.package?.name}: ${f.package?.fixedVersion} > ${f.package?.version} (dpkg)`);
    }
  });
});
