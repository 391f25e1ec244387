import assert from 'node:assert/strict';
import * as CDX from '@cyclonedx/cyclonedx-library';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { imggate } from '../harness/cli.js';
import { buildImage, pushImage } from '../harness/images.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { rulesWithoutFeeds } from '../harness/rules.js';

describe('imggate sbom @integration', function () {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => registry?.stop());

  it('writes a CycloneDX 1.5 SBOM that the CycloneDX library’s strict validator accepts', async function () {
    const image = await buildImage({
      user: '0',
      layers: [
        {
          entries: [
            { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' },
            { name: 'var/lib/dpkg/status', content: 'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\n' },
            { name: 'app/node_modules/@scope/pkg/package.json', content: '{"name":"@scope/pkg","version":"1.2.3"}' },
          ],
        },
      ],
    });
    await pushImage(registry.host, 'sbom/app', 'v1', image);
    const r = await imggate(['sbom', `${registry.host}/sbom/app:v1`]);
    assert.equal(r.code, 0, 'sbom exits 0 even though the image runs as root');
    const errors = await new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot5).validate(r.stdout);
    assert.equal(errors, null, JSON.stringify(errors));
    const bom = JSON.parse(r.stdout) as { metadata: { component: { version: string } }; components: Array<{ type: string; purl?: string; properties?: Array<{ name: string; value: string }> }> };
    assert.equal(bom.metadata.component.version, image.manifestDigest);
    const purls = bom.components.map((c) => c.purl).filter(Boolean).sort();
    assert.deepEqual(purls, ['pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12', 'pkg:npm/%40scope/pkg@1.2.3']);
    const ssl = bom.components.find((c) => c.purl?.includes('libssl3'));
    assert.ok(ssl?.properties?.some((p) => p.name === 'imggate:layer' && p.value === image.layers[0]?.digest));

    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-sbom-'));
    try {
      const file = path.join(dir, 'bom.json');
      // The check is run without feeds (they are tested on their own): its verdict rests on the image alone.
      const checked = await imggate(['check', '--offline', '--rules', await rulesWithoutFeeds(), '--no-attest', '--no-store', '--sbom', file, `${registry.host}/sbom/app:v1`]);
      assert.equal(checked.code, 1, 'check still decides: root user');
      assert.equal(JSON.parse(await readFile(file, 'utf8')).bomFormat, 'CycloneDX');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 when the image cannot be read', async function () {
    const r = await imggate(['sbom', `${registry.host}/sbom/missing:v1`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^imggate: NOT_FOUND: manifest sbom\/missing:v1/);
  });
});
