import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { check } from '../../src/index.js';
import { RegistryClient } from '../../src/registry/client.js';
import type { Report } from '../../src/report/types.js';
import { imggate } from '../harness/cli.js';
import { buildImage, pushImage, pushIndex, sha256, skopeoCopy, writeOciLayout, type BuiltImage } from '../harness/images.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { startBlobCounter, startHostileRegistry, startTamperProxy, type TamperProxy } from '../harness/tamper-proxy.js';
import { postgresOrSkip } from '../harness/postgres.js';
import type { RunResult } from '../harness/process.js';

const setuidHelper = { name: 'usr/local/bin/helper', content: '#!/bin/sh\n', mode: 0o4755 };

async function layeredImage(compressions: Array<'gzip' | 'zstd' | 'none'>): Promise<BuiltImage> {
  return buildImage({
    layers: [
      {
        compression: compressions[0] ?? 'gzip',
        createdBy: 'ADD rootfs.tar /',
        entries: [
          { name: 'etc/', type: 'dir' },
          { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
          { name: 'usr/local/bin/', type: 'dir' },
          setuidHelper,
          { name: 'opt/old/', type: 'dir' },
          { name: 'opt/old/tool', content: 'x', mode: 0o2755 },
        ],
      },
      {
        compression: compressions[1] ?? 'zstd',
        createdBy: 'RUN rm /usr/local/bin/helper && rm -rf /opt/old/*',
        entries: [
          { name: 'usr/local/bin/.wh.helper' },
          { name: 'opt/old/.wh..wh..opq' },
          { name: 'opt/old/new', content: 'fresh' },
        ],
      },
      {
        compression: compressions[2] ?? 'none',
        createdBy: 'COPY su /bin/su',
        entries: [{ name: 'bin/su', content: 'ELF', mode: 0o4755 }],
      },
    ],
  });
}

function json(stdout: string): Report {
  return JSON.parse(stdout) as Report;
}

/** A proxy in front of the registry that notes the blobs each CLI run fetches through it. */
async function blobCounter(upstream: string): Promise<TamperProxy & { run(args: readonly string[]): Promise<RunResult & { blobs: string[] }> }> {
  const proxy = await startBlobCounter(upstream);
  return {
    ...proxy,
    async run(args) {
      proxy.blobs.length = 0;
      const r = await imggate(args);
      return { ...r, blobs: [...proxy.blobs] };
    },
  };
}

describe('imggate check against a real registry @integration', function () {
  let registry: TestRegistry;
  let tmp: string;

  before(async function () {
    registry = await startRegistry();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'imggate-check-'));
  });
  after(async function () {
    await registry?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('pulls a gzip+zstd+plain image by digest and tells deleted files from final ones', async function () {
    const image = await layeredImage(['gzip', 'zstd', 'none']);
    await pushImage(registry.host, 'team/app', '1.0', image);
    const r = await imggate(['check', '--format', 'json', `${registry.host}/team/app:1.0`]);
    assert.equal(r.code, 1, r.stderr);
    const report = json(r.stdout);
    assert.equal(report.schema, 'imggate.report/v1');
    assert.equal(report.verdict, 'fail');
    assert.deepEqual(report.findings.filter((f) => f.blocking).map((f) => `${f.rule} ${f.path}`), ['setuid-unpackaged /bin/su']);
    assert.equal(report.image.digest, image.manifestDigest);
    assert.equal(report.image.reference, `${registry.host}/team/app:1.0`);
    assert.equal(report.image.platform, 'linux/amd64');
    assert.equal(report.image.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(report.image.layers?.map((l) => l.digest), image.layers.map((l) => l.digest));
    const helper = report.findings.find((f) => f.path === '/usr/local/bin/helper');
    assert.ok(helper, 'setuid helper deleted by a later layer is still reported');
    assert.equal(helper.inFinalFilesystem, false);
    assert.equal(helper.layer, image.layers[0]?.digest);
    assert.equal(helper.createdBy, 'ADD rootfs.tar /');
    const opaque = report.findings.find((f) => f.path === '/opt/old/tool');
    assert.equal(opaque?.check, 'setgid');
    assert.equal(opaque?.inFinalFilesystem, false, 'an opaque whiteout hides the lower layer copy');
    const su = report.findings.find((f) => f.path === '/bin/su');
    assert.equal(su?.inFinalFilesystem, true);
    assert.equal(su?.layer, image.layers[2]?.digest);
  });

  it('prints a table, writes --output, and exits 1 on a policy failure', async function () {
    const image = await layeredImage(['gzip', 'gzip', 'gzip']);
    await pushImage(registry.host, 'team/table', 'v1', image);
    const out = path.join(tmp, 'report.json');
    const r = await imggate(['check', '--output', out, '--format', 'json', `${registry.host}/team/table:v1`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^FAIL {2}127\.0\.0\.1:\d+\/team\/table:v1/);
    assert.match(r.stdout, /setuid \(2, 1 blocking\)/);
    assert.match(r.stdout, /BLOCK high {5}unpackaged setuid file \/bin\/su/);
    assert.match(r.stdout, /deleted by a later layer, still shipped/);
    const written = JSON.parse(await readFile(out, 'utf8')) as Report;
    assert.equal(written.image.digest, image.manifestDigest);
  });

  it('checks by digest, and by tag+digest using the digest', async function () {
    const image = await layeredImage(['gzip', 'gzip', 'gzip']);
    await pushImage(registry.host, 'team/pinned', 'moving', image);
    const other = await buildImage({ layers: [{ entries: [{ name: 'x', content: 'y' }] }] });
    await pushImage(registry.host, 'team/pinned', 'moving2', other);
    const byDigest = await check(`${registry.host}/team/pinned@${image.manifestDigest}`);
    assert.equal(byDigest.verdict, 'fail', byDigest.error?.message);
    assert.equal(byDigest.image.digest, image.manifestDigest);
    const both = await check(`${registry.host}/team/pinned:moving2@${image.manifestDigest}`);
    assert.equal(both.image.digest, image.manifestDigest);
  });

  it('selects a platform from an index, or checks them all', async function () {
    const amd = await buildImage({ layers: [{ entries: [{ name: 'bin/a', content: 'amd', mode: 0o4755 }] }] });
    const arm = await buildImage({ layers: [{ entries: [{ name: 'bin/b', content: 'arm' }] }], platform: { os: 'linux', architecture: 'arm64' } });
    const indexDigest = await pushIndex(registry.host, 'team/multi', 'latest', [amd, arm]);
    const one = await imggate(['check', '--format', 'json', '--platform', 'linux/arm64', `${registry.host}/team/multi`]);
    assert.equal(one.code, 0, one.stderr);
    const armReport = json(one.stdout);
    assert.equal(armReport.image.digest, arm.manifestDigest);
    assert.equal(armReport.image.platform, 'linux/arm64');
    const all = await imggate(['check', '--format', 'json', '--all-platforms', `${registry.host}/team/multi:latest`]);
    assert.equal(all.code, 1, all.stderr);
    const report = json(all.stdout);
    assert.equal(report.verdict, 'fail', 'the amd64 image carries an unpackaged setuid file');
    assert.deepEqual(report.platforms?.map((p) => p.verdict).sort(), ['fail', 'pass']);
    assert.equal(report.image.digest, indexDigest);
    assert.equal(report.image.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(report.platforms?.map((p) => p.image.platform).sort(), ['linux/amd64', 'linux/arm64']);
    assert.equal(report.platforms?.find((p) => p.image.platform === 'linux/amd64')?.findings[0]?.path, '/bin/a');
    const missing = await imggate(['check', '--platform', 'linux/s390x', `${registry.host}/team/multi`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stdout, /PLATFORM_NOT_FOUND: no manifest for linux\/s390x in the index \(it offers: linux\/amd64, linux\/arm64\)/);
  });

  it('reads Docker schema 2 manifests', async function () {
    const image = await buildImage({ dockerMediaTypes: true, layers: [{ entries: [{ name: 'a', content: 'b' }] }] });
    await pushImage(registry.host, 'team/docker', 'v2', image);
    const report = await check(`${registry.host}/team/docker:v2`);
    assert.equal(report.verdict, 'pass', report.error?.message);
    assert.equal(report.image.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  });

  it('fails closed when a proxy alters a layer in transit (exit 2, blob named)', async function () {
    const image = await layeredImage(['gzip', 'gzip', 'gzip']);
    await pushImage(registry.host, 'team/tampered', 'v1', image);
    const proxy = await startTamperProxy(registry.host, (url) => url.includes(image.layers[1]?.digest ?? 'none'));
    try {
      // --no-cache: these layers were read by earlier tests, and a known layer is not fetched at all.
      const r = await imggate(['check', '--no-cache', '--format', 'json', `${proxy.host}/team/tampered:v1`]);
      assert.equal(r.code, 2, r.stdout);
      const report = json(r.stdout);
      assert.equal(report.verdict, 'error');
      assert.equal(report.error?.code, 'DIGEST_MISMATCH');
      assert.match(report.error?.message ?? '', new RegExp(image.layers[1]?.digest ?? 'x'));
      assert.equal(report.findings[0]?.check, 'digest');
      assert.equal(report.findings[0]?.blocking, true);
    } finally {
      await proxy.stop();
    }
  });

  it('fetches no layer it has read before: a digest checked again, a new tag on a known base (the registry\'s blob requests)', async function () {
    const marker = sha256(Buffer.from(`${Date.now()}-${Math.random()}`)).slice(7, 19);
    const baseLayers = [
      { entries: [{ name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n' }, { name: `base-${marker}`, content: 'base' }] },
      { entries: [setuidHelper, { name: 'app/.env', content: 'GITHUB_TOKEN=ghp_R7vT2qLx9WmK4pZs8YbN3cJd6HfG1aQe5Uio\n' }] },
    ];
    const v1 = await buildImage({ layers: baseLayers, user: 'app' });
    const v2 = await buildImage({ layers: [...baseLayers, { entries: [{ name: `app/new-${marker}`, content: 'new' }] }], user: 'app' });
    await pushImage(registry.host, 'team/cached', 'v1', v1);
    await pushImage(registry.host, 'team/cached', 'v2', v2);
    const proxy = await blobCounter(registry.host);
    const checkTag = async (tag: string, ...extra: string[]): Promise<{ report: Report; blobs: string[] }> => {
      const r = await proxy.run(['check', '--no-attest', '--format', 'json', ...extra, `${proxy.host}/team/cached:${tag}`]);
      assert.equal(r.code, 1, r.stderr);
      return { report: json(r.stdout), blobs: r.blobs };
    };
    const stable = (r: Report): unknown => ({ ...r, image: { ...r.image, reference: '' }, checkedAt: '', durationMs: 0 });
    try {
      const first = await checkTag('v1');
      assert.deepEqual(new Set(first.blobs), new Set([v1.config.digest, ...v1.layers.map((l) => l.digest)]));
      const again = await checkTag('v1');
      assert.deepEqual(again.blobs, [v1.config.digest], 'the same digest again: the config, no layer');
      assert.deepEqual(stable(again.report), stable(first.report));
      const next = await checkTag('v2');
      assert.deepEqual(new Set(next.blobs), new Set([v2.config.digest, v2.layers[2]?.digest]), 'a new tag: its new layer only');
      const fresh = await checkTag('v2', '--no-cache');
      assert.equal(fresh.blobs.length, 4, '--no-cache reads every layer');
      assert.deepEqual(stable(next.report), stable(fresh.report));
      assert.ok(next.report.findings.some((f) => f.check === 'setuid' && f.blocking), 'findings of the known layers are still reported');
      assert.ok(next.report.findings.some((f) => f.check === 'secret' && f.path === '/app/.env'));
    } finally {
      await proxy.stop();
    }
  });

  it('keeps verdicts and layer facts in PostgreSQL (store.database): a second check of the digest fetches no layer', async function () {
    const server = await postgresOrSkip(this);
    const proxy = await blobCounter(registry.host);
    try {
      const database = await server.createDatabase();
      const config = path.join(tmp, 'imggate-pg.yaml');
      await writeFile(config, `store:\n  database: ${JSON.stringify(database)}\n`);
      const marker = sha256(Buffer.from(`${Date.now()}-${Math.random()}`)).slice(7, 19);
      const image = await buildImage({ layers: [{ entries: [{ name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n' }] }, { entries: [setuidHelper, { name: `app/${marker}`, content: 'x' }] }], user: 'app' });
      await pushImage(registry.host, 'team/pg', 'v1', image);
      const ref = `${proxy.host}/team/pg:v1`;
      const first = await proxy.run(['check', '--config', config, '--no-attest', '--format', 'json', ref]);
      assert.equal(first.code, 1, first.stderr);
      assert.deepEqual(new Set(first.blobs), new Set([image.config.digest, ...image.layers.map((l) => l.digest)]));
      const again = await proxy.run(['check', '--config', config, '--no-attest', '--format', 'json', ref]);
      assert.equal(again.code, 1, again.stderr);
      assert.deepEqual(again.blobs, [image.config.digest], 'the same digest again: the config, no layer');
      assert.deepEqual(json(again.stdout).findings, json(first.stdout).findings);
      // Both verdicts are in PostgreSQL, as history reads them back; the embedded store was not used.
      const history = await imggate(['history', '--config', config, '--format', 'json', image.manifestDigest]);
      assert.equal(history.code, 0, history.stderr);
      const rows = JSON.parse(history.stdout) as Array<{ digest: string; verdict: string }>;
      assert.deepEqual(rows.map((r) => [r.digest, r.verdict]), [[image.manifestDigest, 'fail'], [image.manifestDigest, 'fail']]);
      const embedded = await imggate(['history', '--format', 'json', image.manifestDigest]);
      assert.deepEqual(JSON.parse(embedded.stdout), []);
    } finally {
      await proxy.stop();
      await server.destroy();
    }
  });

  it('fails closed when a manifest is altered in transit', async function () {
    const image = await layeredImage(['gzip', 'gzip', 'gzip']);
    await pushImage(registry.host, 'team/tampered-manifest', 'v1', image);
    const proxy = await startTamperProxy(registry.host, (url) => url.includes('/manifests/sha256:'));
    try {
      const report = await check(`${proxy.host}/team/tampered-manifest@${image.manifestDigest}`);
      assert.equal(report.verdict, 'error');
      assert.equal(report.error?.code, 'DIGEST_MISMATCH');
    } finally {
      await proxy.stop();
    }
  });

  it('fails closed when a layer does not match its diffID', async function () {
    const image = await buildImage({
      layers: [{ entries: [{ name: 'a', content: 'b' }] }],
      diffIdOverride: { 0: sha256(Buffer.from('something else')) },
    });
    await pushImage(registry.host, 'team/diffid', 'v1', image);
    const report = await check(`${registry.host}/team/diffid:v1`);
    assert.equal(report.verdict, 'error');
    assert.equal(report.error?.code, 'DIGEST_MISMATCH');
    assert.match(report.error?.message ?? '', /diffID/);
  });

  it('refuses a decompression bomb past the uncompressed limit', async function () {
    const image = await buildImage({ layers: [{ entries: [{ name: 'zeros', content: Buffer.alloc(8 * 1024 * 1024) }] }] });
    assert.ok((image.layers[0]?.size ?? 0) < 64 * 1024);
    await pushImage(registry.host, 'team/bomb', 'v1', image);
    const r = await imggate(['check', '--max-uncompressed-size', '1MiB', `${registry.host}/team/bomb:v1`]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /LAYER_TOO_LARGE: .*expands to more than 1048576 bytes/);
  });

  it('refuses a manifest over 4 MiB, with or without Content-Length', async function () {
    // The distribution registry itself refuses to store such a manifest, so a hostile server serves it.
    for (const chunked of [false, true]) {
      const hostile = await startHostileRegistry(() => ({ body: Buffer.alloc(4 * 1024 * 1024 + 1, 0x20), chunked }));
      try {
        const report = await check(`${hostile.host}/team/huge:v1`);
        assert.equal(report.verdict, 'error');
        assert.equal(report.error?.code, 'MANIFEST_TOO_LARGE', report.error?.message);
      } finally {
        await hostile.stop();
      }
    }
  });

  it('refuses malformed manifests with a reason', async function () {
    const cases: Array<[string, string, RegExp]> = [
      ['not json', 'application/vnd.oci.image.manifest.v1+json', /not valid JSON/],
      ['{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}', 'application/vnd.oci.image.manifest.v1+json', /config\.mediaType/],
      ['{"schemaVersion":1,"name":"x","fsLayers":[]}', 'application/vnd.docker.distribution.manifest.v1+prettyjws', /schema 1/],
      ['{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}', 'application/vnd.oci.image.manifest.v1+json', /declares mediaType/],
    ];
    for (const [body, contentType, pattern] of cases) {
      const hostile = await startHostileRegistry(() => ({ body: Buffer.from(body), contentType }));
      try {
        const report = await check(`${hostile.host}/team/bad:v1`);
        assert.equal(report.verdict, 'error', body);
        assert.match(report.error?.message ?? '', pattern);
      } finally {
        await hostile.stop();
      }
    }
  });

  it('reports a missing tag and an unreachable registry as errors (exit 2)', async function () {
    const missing = await imggate(['check', `${registry.host}/team/nothing:here`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stdout, /NOT_FOUND/);
    const down = await imggate(['check', '127.0.0.1:1/x:y']);
    assert.equal(down.code, 2);
    assert.match(down.stdout, /NETWORK/);
  });

  it('lists tags across pages', async function () {
    const image = await buildImage({ layers: [{ entries: [{ name: 'a', content: 'b' }] }] });
    for (const tag of ['t1', 't2', 't3', 't4', 't5']) await pushImage(registry.host, 'team/paged', tag, image);
    const tags = await new RegistryClient(registry.host).listTags('team/paged', 2);
    assert.deepEqual(tags.sort(), ['t1', 't2', 't3', 't4', 't5']);
  });

  it('checks an image pushed by skopeo, and the same image as oci:, oci-archive: and docker-archive:', async function () {
    const image = await layeredImage(['gzip', 'gzip', 'none']);
    const layout = path.join(tmp, 'layout');
    await writeOciLayout(layout, 'v1', image);
    await skopeoCopy(`oci:${layout}:v1`, `docker://${registry.host}/skopeo/app:v1`);
    const fromRegistry = await check(`${registry.host}/skopeo/app:v1`);
    assert.equal(fromRegistry.verdict, 'fail', fromRegistry.error?.message);
    const paths = (r: Report): string[] => r.findings.filter((f) => f.path).map((f) => `${f.path}:${String(f.inFinalFilesystem)}`).sort();
    const expected = ['/bin/su:true', '/opt/old/tool:false', '/usr/local/bin/helper:false'];

    assert.deepEqual(paths(fromRegistry), expected);
    const fromLayout = await check(`oci:${layout}:v1`);
    assert.equal(fromLayout.image.digest, image.manifestDigest);
    assert.deepEqual(paths(fromLayout), expected);

    const archive = path.join(tmp, 'app.oci.tar');
    await skopeoCopy(`oci:${layout}:v1`, `oci-archive:${archive}:v1`);
    const fromArchive = await check(`oci-archive:${archive}:v1`);
    assert.equal(fromArchive.verdict, 'fail', fromArchive.error?.message);
    assert.equal(fromArchive.image.source, 'oci-archive');
    assert.deepEqual(paths(fromArchive), expected);

    const saved = path.join(tmp, 'app.docker.tar');
    await skopeoCopy(`oci:${layout}:v1`, `docker-archive:${saved}:example/app:v1`);
    const fromSave = await imggate(['check', '--format', 'json', `docker-archive:${saved}`]);
    assert.equal(fromSave.code, 1, fromSave.stdout);
    assert.equal(json(fromSave.stdout).image.source, 'docker-archive');
    assert.deepEqual(paths(json(fromSave.stdout)), expected);
    const byTag = await check(`docker-archive:${saved}:example/app:v1`);
    assert.equal(byTag.verdict, 'fail', byTag.error?.message);
    assert.equal(byTag.image.source, 'docker-archive');
  });

  it('detects a tampered blob in a local OCI layout', async function () {
    const image = await layeredImage(['gzip', 'gzip', 'gzip']);
    const layout = path.join(tmp, 'tampered-layout');
    await writeOciLayout(layout, 'v1', image);
    const blob = path.join(layout, 'blobs', 'sha256', image.layers[2]?.digest.slice(7) ?? '');
    const bytes = await readFile(blob);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    await writeFile(blob, bytes);
    // --no-cache: these layers were read by earlier tests, and a known layer is not read at all.
    const r = await imggate(['check', '--no-cache', `oci:${layout}:v1`]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /DIGEST_MISMATCH/);
  });
});

describe('hostile layers through the whole check @integration', function () {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => registry?.stop());

  const push = async (name: string, layer: Buffer, diffId: string): Promise<string> => {
    const { gzipSync } = await import('node:zlib');
    const image = await buildImage({ layers: [{ entries: [{ name: 'placeholder', content: 'x' }] }] });
    const data = gzipSync(layer);
    const blob = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(data), size: data.length, data };
    const config = JSON.parse(image.config.data.toString()) as { rootfs: { diff_ids: string[] } };
    config.rootfs.diff_ids = [diffId];
    const configData = Buffer.from(JSON.stringify(config));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(configData), size: configData.length },
        layers: [{ mediaType: blob.mediaType, digest: blob.digest, size: blob.size }],
      }),
    );
    const client = new RegistryClient(registry.host);
    await client.pushBlob(`hostile/${name}`, configData, 'application/vnd.oci.image.config.v1+json');
    await client.pushBlob(`hostile/${name}`, data, blob.mediaType);
    await client.pushManifest(`hostile/${name}`, 'v1', manifest, 'application/vnd.oci.image.manifest.v1+json');
    return `${registry.host}/hostile/${name}:v1`;
  };

  it('fails closed on a tar with a bad checksum, a truncated tar, and a doubly compressed layer', async function () {
    const { makeTar } = await import('../helpers/tar-writer.js');
    const { gzipSync } = await import('node:zlib');
    const cases: Array<[string, Buffer, RegExp]> = [
      ['badsum', makeTar([{ name: 'a', content: 'b', badChecksum: true }]), /TAR_INVALID: .*bad checksum/],
      ['truncated', makeTar([{ name: 'a', content: 'x'.repeat(5000) }]).subarray(0, 2048), /TAR_INVALID: .*short/],
      ['double', gzipSync(makeTar([{ name: 'a', content: 'b' }])), /TAR_INVALID/],
    ];
    for (const [name, tar, pattern] of cases) {
      const ref = await push(name, tar, sha256(tar));
      const r = await imggate(['check', ref]);
      assert.equal(r.code, 2, `${name}: ${r.stdout}`);
      assert.match(r.stdout, pattern, name);
    }
  });

  it('applies a ../ path where the runtime would: inside the root', async function () {
    const { makeTar } = await import('../helpers/tar-writer.js');
    const tar = makeTar([{ name: '../../../usr/local/bin/escape', content: 'x', mode: 0o4755 }]);
    const report = await check(await push('traversal', tar, sha256(tar)));
    assert.equal(report.findings.find((f) => f.check === 'setuid')?.path, '/usr/local/bin/escape');
    assert.equal(report.verdict, 'fail');
  });
});
