import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { cli } from '../harness/cli.js';
import { buildImage, writeOciLayout } from '../harness/images.js';
import { rulesWithoutFeeds } from '../harness/rules.js';

describe('imggate sbom --format', function () {
  const refused: Array<[string, RegExp]> = [
    ['table', /sbom writes CycloneDX JSON only \(--format cyclonedx\), not "table"; 'imggate check --format table' writes/],
    ['json', /sbom writes CycloneDX JSON only \(--format cyclonedx\), not "json"; 'imggate check --format json' writes/],
    ['sarif', /sbom writes CycloneDX JSON only \(--format cyclonedx\), not "sarif"/],
    ['spdx', /sbom writes CycloneDX JSON only \(--format cyclonedx\), not "spdx"$/m],
  ];
  for (const [format, message] of refused) {
    for (const argv of [['sbom', '--format', format, 'oci:/nonexistent:x'], ['sbom', `-f${format}`, 'oci:/nonexistent:x'], ['sbom', 'oci:/nonexistent:x', `--format=${format}`]]) {
      it(`${argv.join(' ')}: a usage error naming the format sbom writes, before any image is read`, async function () {
        const r = await cli(argv);
        assert.equal(r.code, EXIT.usage);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, message);
        assert.match(r.stderr, /Run 'imggate help sbom' for usage\./);
      });
    }
  }

  it('check still takes every format and names them when one is wrong', async function () {
    const r = await cli(['check', '--format', 'spdx', 'oci:/nonexistent:x']);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.stderr, /--format must be table, json, sarif or cyclonedx, not "spdx"/);
  });

  it('sbom without a reference says sbom, not check', async function () {
    const r = await cli(['sbom', '--format', 'cyclonedx']);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.stderr, /^imggate: sbom needs an image reference$/m);
  });
});

describe('imggate sbom and the flags that record a verdict', function () {
  const cases: Array<[string[], RegExp]> = [
    [['--key', 'gate.key'], /sbom records no verdict: --key belongs to check/],
    [['--attestation-out', 'vsa.json'], /sbom records no verdict: --attestation-out belongs to check/],
    [['--no-store', '--no-push'], /sbom records no verdict: --no-push, --no-store belong to check/],
    [['--sbom', 'other.json'], /sbom records no verdict: --sbom belongs to check/],
  ];
  for (const [flags, message] of cases) {
    it(`sbom ${flags.join(' ')}: a usage error before any image is read`, async function () {
      const r = await cli(['sbom', ...flags, 'oci:/nonexistent:x']);
      assert.equal(r.code, EXIT.usage);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
    });
  }

  it('check takes them (the same flags reach the image, which is not there)', async function () {
    const r = await cli(['check', '--no-store', '--no-push', '--no-attest', 'oci:/nonexistent:x']);
    assert.doesNotMatch(r.stderr, /records no verdict|for usage/);
    assert.match(`${r.stdout}${r.stderr}`, /not an OCI image layout/);
  });
});

describe('imggate check when what it records into cannot be opened', function () {
  // The key and the store are opened before the image is read: the command fails on either alone,
  // with no report.
  let dir: string;
  let rules: string;
  let layout: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-cancel-'));
    rules = await rulesWithoutFeeds();
    layout = path.join(dir, 'layout');
    await writeOciLayout(layout, 'app', await buildImage({ layers: [{ entries: [{ name: 'etc/hello.txt', content: 'hello\n' }] }] }));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(rules, { recursive: true, force: true });
  });

  it('a gate key that cannot be read: exit 2 naming the key, no report', async function () {
    const key = path.join(dir, 'missing.key');
    const r = await cli(['check', '--offline', '--no-store', '--format', 'json', '--rules', rules, '--key', key, `oci:${layout}:app`]);
    assert.equal(r.code, EXIT.error);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`cannot read the gate key ${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('a store that cannot be opened: exit 2 naming the store, no report', async function () {
    // A store directory under a regular file cannot be made, by root either.
    const file = path.join(dir, 'a-file');
    await writeFile(file, '');
    const config = path.join(dir, 'imggate.yaml');
    await writeFile(config, `store:\n  dir: ${path.join(file, 'store')}\n`);
    const r = await cli(['check', '--offline', '--no-attest', '--format', 'json', '--config', config, '--rules', rules, `oci:${layout}:app`]);
    assert.equal(r.code, EXIT.error);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /cannot open the store/);
  });
});
