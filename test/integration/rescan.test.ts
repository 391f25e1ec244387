import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { imggate } from '../harness/cli.js';
import { startDebianMirror, type MirrorPackage, type TestMirror } from '../harness/debian-mirror.js';
import { dpkgImage, pushImage, type BuiltImage } from '../harness/images.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { startBlobCounter, type TamperProxy } from '../harness/tamper-proxy.js';
import { eventually, startServeProcess, type ServeProcess } from '../server/serve-process.js';

const WRITE_TOKEN = 'api-write-token-0123456789';
const PASSWORD = 'rescan test key password';
const BASH = '5.2.15-2+b2';

interface CheckView {
  id: number;
  digest: string;
  state: string;
  priority: string;
  verdict?: string;
}

interface ImageView {
  verdict: string;
  checkId?: number;
  attestations?: unknown[];
  report: { findings: Array<{ check: string; rule: string; package?: { name: string } }> };
}

describe('imggate serve: rescans when the feeds change @integration', function () {
  this.timeout(300_000);
  let dir: string;
  let registry: TestRegistry;
  let proxy: TamperProxy;
  let mirror: TestMirror;
  let server: ServeProcess;
  let config: string;
  let image: BuiltImage;
  let digest: string;
  /** Blob digests the service fetched through the proxy. */
  let blobs: string[] = [];

  const publish = (security: readonly MirrorPackage[]): Promise<void> => mirror.publish('bookworm-security', security, { date: new Date().toUTCString() });
  const feedsUpdate = async (): Promise<void> => {
    const r = await imggate(['feeds', 'update', '--config', config], { env: { XDG_DATA_HOME: path.join(dir, 'data') } });
    assert.equal(r.code, 0, r.stderr);
  };
  const api = async <T>(p: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${server.url}${p}`, { ...init, headers: { authorization: `Bearer ${WRITE_TOKEN}`, 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) } });
    assert.ok(res.ok, `${p}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  const rescans = async (): Promise<CheckView[]> => (await api<{ checks: CheckView[] }>('/v1/checks?repository=team/app')).checks.filter((c) => c.priority === 'rescan');
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.]+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
  };

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-rescan-'));
    const gen = await imggate(['keys', 'generate', '--output-key-prefix', path.join(dir, 'gate')], { env: { IMGGATE_KEY_PASSWORD: PASSWORD } });
    assert.equal(gen.code, 0, gen.stderr);
    registry = await startRegistry();
    const counter = await startBlobCounter(registry.host);
    [proxy, blobs] = [counter, counter.blobs];
    const now = new Date().toUTCString();
    mirror = await startDebianMirror(
      { bookworm: [{ name: 'bash', version: BASH }], 'bookworm-updates': [], 'bookworm-security': [] },
      { bookworm: { date: now }, 'bookworm-updates': { date: now }, 'bookworm-security': { date: now } },
    );
    config = path.join(dir, 'imggate.yaml');
    const yaml = `store:
  dir: ${path.join(dir, 'store')}
attest:
  key: ${path.join(dir, 'gate.key')}
feeds:
  autoUpdate: false
  debian:
    - mirror: ${mirror.url}
      codename: bookworm
      keyring: ${mirror.keyring}
serve:
  listen: 127.0.0.1:0
  allowRegistries: [${proxy.host}]
  concurrency: 1
  lease: 10s
  backoff: 1s
  checkTimeout: 120s
  drainTimeout: 2s
  rescan: { interval: 500ms }
  apiTokens:
    - { name: ci, token: { env: WRITE_TOKEN }, scopes: [read, write] }
`;
    image = await dpkgImage([{ name: 'bash', version: BASH }]);
    digest = await pushImage(registry.host, 'team/app', 'v1', image);
    server = await startServeProcess(dir, yaml, { WRITE_TOKEN, IMGGATE_KEY_PASSWORD: PASSWORD });
    await feedsUpdate();
  });
  after(async function () {
    await server?.stop();
    await mirror?.stop();
    await proxy?.stop();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('re-checks a known image after a feed update without fetching a layer; only a changed verdict is signed and pushed', async function () {
    await api('/v1/checks', { method: 'POST', body: JSON.stringify({ reference: `${proxy.host}/team/app:v1` }) });
    const first = await eventually('the first verdict', async () => {
      const res = await fetch(`${server.url}/v1/images/${digest}`, { headers: { authorization: `Bearer ${WRITE_TOKEN}` } });
      return res.ok ? ((await res.json()) as ImageView) : undefined;
    });
    assert.equal(first.verdict, 'pass', JSON.stringify(first.report.findings));
    assert.ok(first.attestations?.length, 'the first verdict is signed and pushed');
    assert.ok(blobs.includes(image.layers[0]?.digest as string), 'the first check read the layer');

    // An archive update that changes nothing for this image: rescanned, same verdict, stored unsigned.
    blobs.length = 0;
    await publish([{ name: 'zsh', version: '5.9-4+deb12u1' }]);
    await feedsUpdate();
    const quiet = await eventually('a rescan after the first feed update', async () => {
      const done = (await rescans()).filter((c) => c.state === 'done');
      return done.length >= 1 ? done : undefined;
    });
    assert.equal(quiet.length, 1);
    assert.equal(quiet[0]?.verdict, 'pass');
    const same = await api<ImageView>(`/v1/images/${digest}`);
    assert.equal(same.checkId, quiet[0]?.id, 'the rescan is the latest verdict');
    assert.equal(same.attestations, undefined, 'an unchanged verdict is not signed or pushed again');
    assert.deepEqual(blobs.filter((b) => b !== image.config.digest), [], 'no layer fetched by the rescan');

    // A security update for bash: the installed version is now outdated, a blocking finding.
    blobs.length = 0;
    await publish([{ name: 'bash', version: `${BASH}+deb12u1` }]);
    await feedsUpdate();
    const flipped = await eventually('the verdict to flip', async () => {
      const v = await api<ImageView>(`/v1/images/${digest}`);
      return v.verdict === 'fail' ? v : undefined;
    });
    assert.ok(flipped.report.findings.some((f) => f.check === 'outdated-package' && f.rule === 'security-update' && f.package?.name === 'bash'), JSON.stringify(flipped.report.findings));
    assert.ok(flipped.attestations?.length, 'a changed verdict is signed and pushed as check does');
    assert.deepEqual(blobs.filter((b) => b !== image.config.digest), [], 'no layer fetched by the rescan');
    const all = await rescans();
    assert.equal(all.length, 2, 'one rescan per feed update');
    assert.equal(await metric('imggate_verdicts_changed_total'), 1);
    assert.equal(await metric('imggate_rescans_queued_total'), 2);
  });
});
