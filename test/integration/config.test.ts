import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { check, parseConfig } from '../../src/index.js';
import { imggate } from '../harness/cli.js';
import { buildImage, pushImage } from '../harness/images.js';
import { freePort } from '../harness/process.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { startTamperProxy } from '../harness/tamper-proxy.js';

describe('configuration, mirrors and limits @integration', function () {
  let upstream: TestRegistry;
  let mirror: TestRegistry;
  let tmp: string;

  before(async function () {
    [upstream, mirror] = await Promise.all([startRegistry(), startRegistry()]);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'imggate-config-it-'));
  });
  after(async function () {
    await Promise.all([upstream?.stop(), mirror?.stop()]);
    await rm(tmp, { recursive: true, force: true });
  });

  it('pulls through a configured mirror when the upstream is down', async function () {
    const image = await buildImage({ layers: [{ entries: [{ name: 'a', content: 'mirrored' }] }] });
    await pushImage(mirror.host, 'team/app', 'v1', image);
    const deadHost = `127.0.0.1:${await freePort()}`;
    const config = parseConfig(`registries:\n  "${deadHost}":\n    mirrors: ["${mirror.host}"]\n`, 'inline');
    const report = await check(`${deadHost}/team/app:v1`, { config });
    assert.equal(report.verdict, 'pass', report.error?.message);
    assert.equal(report.image.digest, image.manifestDigest);
  });

  it('falls back to the upstream when the mirror lacks the image, but never past a tampering mirror', async function () {
    const image = await buildImage({ layers: [{ entries: [{ name: 'b', content: 'upstream only' }] }] });
    await pushImage(upstream.host, 'team/other', 'v1', image);
    const config = parseConfig(`registries:\n  "${upstream.host}":\n    mirrors: ["${mirror.host}"]\n`, 'inline');
    const fallback = await check(`${upstream.host}/team/other:v1`, { config });
    assert.equal(fallback.verdict, 'pass', fallback.error?.message);

    await pushImage(mirror.host, 'team/other', 'v1', image);
    const proxy = await startTamperProxy(mirror.host, (url) => url.includes('/blobs/'));
    try {
      const bad = parseConfig(`registries:\n  "${upstream.host}":\n    mirrors: ["${proxy.host}"]\n`, 'inline');
      const report = await check(`${upstream.host}/team/other:v1`, { config: bad });
      assert.equal(report.verdict, 'error');
      assert.equal(report.error?.code, 'DIGEST_MISMATCH');
    } finally {
      await proxy.stop();
    }
  });

  it('reads --config, names bad fields, and lets flags override it', async function () {
    const image = await buildImage({ layers: [{ entries: [{ name: 'big', content: Buffer.alloc(300_000, 1) }] }] });
    await pushImage(upstream.host, 'team/limits', 'v1', image);
    const good = path.join(tmp, 'good.yaml');
    await writeFile(good, 'limits:\n  maxUncompressedLayerBytes: 100KiB\n');
    const limited = await imggate(['check', '--config', good, `${upstream.host}/team/limits:v1`]);
    assert.equal(limited.code, 2);
    assert.match(limited.stdout, /LAYER_TOO_LARGE/);
    const overridden = await imggate(['check', '--config', good, '--max-uncompressed-size', '1MiB', `${upstream.host}/team/limits:v1`]);
    assert.equal(overridden.code, 0, overridden.stdout);
    const viaEnv = await imggate(['check', `${upstream.host}/team/limits:v1`], { env: { IMGGATE_CONFIG: good } });
    assert.equal(viaEnv.code, 2);

    const bad = path.join(tmp, 'bad.yaml');
    await writeFile(bad, 'limits:\n  timeout: forever\n');
    const r = await imggate(['check', '--config', bad, `${upstream.host}/team/limits:v1`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml is not a valid imggate config:\n {2}limits\.timeout: "forever" is not a duration/);
  });

  it('gives up with verdict error when the time limit passes', async function () {
    const image = await buildImage({ layers: [{ entries: [{ name: 'a', content: 'b' }] }] });
    await pushImage(upstream.host, 'team/slow', 'v1', image);
    const r = await imggate(['check', '--timeout', '1ms', `${upstream.host}/team/slow:v1`]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /CHECK_TIMEOUT/);
  });
});

describe('the CLI surface', function () {
  it('prints help and version, and refuses bad usage with exit 2', async function () {
    const help = await imggate(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage:\n {2}imggate <command>/);
    const checkHelp = await imggate(['check', '--help']);
    assert.match(checkHelp.stdout, /--all-platforms/);
    const version = await imggate(['--version']);
    assert.match(version.stdout, /^imggate \d+\.\d+\.\d+/);
    for (const args of [['check'], ['check', 'a', 'b'], ['check', '--format', 'xml', 'a'], ['check', '--bogus', 'a'], ['frobnicate'], ['check', '--timeout', 'soon', 'a'], ['check', '--platform', 'linux/amd64', '--all-platforms', 'a']]) {
      const r = await imggate(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.ok(r.stderr.length > 0, args.join(' '));
    }
    const badRef = await imggate(['check', 'UPPER/case']);
    assert.equal(badRef.code, 2);
    assert.match(badRef.stdout, /REFERENCE_INVALID/);
  });
});
