import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Report } from '../../src/report/types.js';
import { imggate } from '../harness/cli.js';
import { debianImage, type DebianImage } from '../harness/debian.js';
import { startDebianMirror, type TestMirror } from '../harness/debian-mirror.js';

describe('distribution feeds: a Debian-style mirror on loopback @integration', function () {
  this.timeout(300_000);
  let image: DebianImage | undefined;
  let mirror: TestMirror;
  let dir: string;
  let bash = '';
  let tar = '';

  const writeConfig = async (keyring: string | undefined, extra = ''): Promise<string> => {
    const file = path.join(dir, 'imggate.yaml');
    await writeFile(
      file,
      `store:\n  dir: ${path.join(dir, 'store')}\nfeeds:\n  debian:\n    - mirror: ${mirror.url}\n      codename: bookworm\n${keyring ? `      keyring: ${keyring}\n` : ''}${extra}`,
    );
    return file;
  };

  before(async function () {
    image = await debianImage();
    if (!image) this.skip();
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-feeds-'));
    const inventory = await imggate(['check', '--format', 'json', `oci:${image.layout}:minbase-nonroot`]);
    const packages = (JSON.parse(inventory.stdout) as Report).inventory?.packages ?? [];
    bash = packages.find((p) => p.name === 'bash')?.version ?? '';
    tar = packages.find((p) => p.name === 'tar')?.version ?? '';
    assert.ok(bash && tar);
    mirror = await startDebianMirror({
      bookworm: [{ name: 'bash', version: bash }, { name: 'tar', version: tar }],
      'bookworm-updates': [{ name: 'tar', version: `${tar}+upd1` }],
      'bookworm-security': [{ name: 'bash', version: `${bash}+sec1` }, { name: 'tar', version: '1.0-1' }],
    });
  });
  after(async () => {
    await mirror?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fetches every suite, verifying InRelease with gpgv and each index by SHA256', async function () {
    const config = await writeConfig(mirror.keyring);
    const r = await imggate(['feeds', 'update', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^bookworm: 2 packages, InRelease sha256:[a-f0-9]{64}, signature verified/m);
    assert.match(r.stdout, /^bookworm-security: 2 packages/m);
  });

  it('flags a missed security update (blocking) and a stable update (not blocking), naming the snapshots', async function () {
    const config = await writeConfig(mirror.keyring);
    const r = await imggate(['check', '--format', 'json', '--config', config, `oci:${image?.layout}:minbase-nonroot`]);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(r.code, 1, r.stdout.slice(0, 2000));
    const outdated = report.findings.filter((f) => f.check === 'outdated-package');
    assert.deepEqual(outdated.map((f) => `${f.rule} ${f.package?.name} ${f.package?.fixedVersion} ${f.blocking}`).sort(), [
      `security-update bash ${bash}+sec1 true`,
      `stable-update tar ${tar}+upd1 false`,
    ]);
    assert.deepEqual(report.feeds?.map((f) => `${f.kind} ${f.verified}`), ['debian true', 'debian true', 'debian true']);
    assert.ok(report.feeds?.every((f) => /^sha256:/.test(f.digest ?? '')));
  });

  it('is inconclusive (exit 2) when a snapshot is older than feeds.maxAge and automatic updates are off', async function () {
    const config = await writeConfig(mirror.keyring, '  maxAge: 1ms\n  autoUpdate: false\n');
    await new Promise((r) => setTimeout(r, 5));
    const r = await imggate(['check', '--format', 'json', '--config', config, `oci:${image?.layout}:minbase-nonroot`]);
    assert.equal(r.code, 2);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.verdict, 'error');
    assert.ok(report.findings.some((f) => f.rule === 'stale-feed'));
  });

  it('refuses an InRelease signed by another key, and an index that does not match its Release', async function () {
    const wrongKey = await writeConfig(mirror.otherKeyring);
    const bad = await imggate(['feeds', 'update', '--config', wrongKey]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /AUTH_FAILED: InRelease signature does not verify/);
    mirror.override('/debian/dists/bookworm-security/main/binary-amd64/Packages.gz', Buffer.from('not the index the Release lists'));
    try {
      const tampered = await imggate(['feeds', 'update', '--config', await writeConfig(mirror.keyring)]);
      assert.equal(tampered.code, 2);
      assert.match(tampered.stderr, /DIGEST_MISMATCH: bookworm-security\/main\/binary-amd64\/Packages\.gz hashes to/);
    } finally {
      mirror.override('/debian/dists/bookworm-security/main/binary-amd64/Packages.gz', undefined);
    }
  });

  it('is inconclusive when a configured feed was never fetched and automatic updates are off', async function () {
    const file = path.join(dir, 'empty.yaml');
    await writeFile(file, `store:\n  dir: ${path.join(dir, 'empty-store')}\nfeeds:\n  autoUpdate: false\n  debian:\n    - mirror: ${mirror.url}\n      codename: bookworm\n`);
    const r = await imggate(['check', '--format', 'json', '--config', file, `oci:${image?.layout}:minbase-nonroot`]);
    assert.equal(r.code, 2);
    assert.ok((JSON.parse(r.stdout) as Report).findings.some((f) => f.rule === 'feed-missing'));
  });
});
