import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RegistryClient } from '../../src/registry/client.js';
import { imggate } from '../harness/cli.js';
import { buildImage, pushImage, skopeoCopy, writeOciLayout, type BuiltImage } from '../harness/images.js';
import { freePort } from '../harness/process.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { eventually, startServeProcess, type ServeProcess } from '../server/serve-process.js';

const HOOK_TOKEN = 'hook-token-0123456789abcdef';
const WRITE_TOKEN = 'api-write-token-0123456789';
const PASSWORD = 'reconcile test key password';
const V1 = 'application/vnd.docker.distribution.events.v1+json';

interface ImageEntry {
  registry: string;
  repository: string;
  digest: string;
  tags: string[];
  current: boolean;
  verdict?: string;
  removedAt?: string;
}

interface CheckView {
  id: number;
  priority: string;
  verdict?: string;
  events?: Array<{ receiver: string; eventId: string; tag?: string }>;
}

async function api<T>(server: ServeProcess, p: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}${p}`, { ...init, headers: { authorization: `Bearer ${WRITE_TOKEN}`, ...(init.headers as Record<string, string> | undefined) } });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

const image = (marker: string): Promise<BuiltImage> =>
  buildImage({ layers: [{ entries: [{ name: 'etc/', type: 'dir' }, { name: `etc/${marker}`, content: marker }] }], extraConfig: { Healthcheck: { Test: ['CMD', 'true'] } } });

/**
 * The registry's notifications go to a port nobody listens on, and the registry is killed after the
 * push: the event it kept retrying in memory is gone, as when a registry restarts between a push and
 * its notification. Only the reconcile loop can find the image, and the deletion.
 */
describe('imggate serve: the reconcile loop finds what notifications lost @integration', function () {
  let dir: string;
  let registry: TestRegistry;
  let server: ServeProcess;

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-reconcile-'));
    const gen = await imggate(['keys', 'generate', '--output-key-prefix', path.join(dir, 'gate')], { env: { IMGGATE_KEY_PASSWORD: PASSWORD } });
    assert.equal(gen.code, 0, gen.stderr);
    const nobody = await freePort();
    registry = await startRegistry({ kind: 'none' }, { notifications: { url: `http://127.0.0.1:${nobody}/hooks/distribution`, token: HOOK_TOKEN } });
    const config = `store:
  dir: ${path.join(dir, 'store')}
attest:
  key: ${path.join(dir, 'gate.key')}
serve:
  listen: 127.0.0.1:0
  allowRegistries: [${registry.host}]
  concurrency: 1
  lease: 10s
  backoff: 1s
  checkTimeout: 120s
  drainTimeout: 2s
  receivers:
    distribution:
      type: distribution
      auth: { kind: token, token: { value: ${HOOK_TOKEN} } }
  apiTokens:
    - { name: ci, token: { value: ${WRITE_TOKEN} }, scopes: [read, write] }
  reconcile:
    repositories: [${registry.host}/team/*, ${registry.host}/solo]
    interval: 1s
`;
    server = await startServeProcess(dir, config, { IMGGATE_KEY_PASSWORD: PASSWORD });
  });
  after(async function () {
    await server?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const passes = (): number => server.logs().split('\n').filter((l) => l.includes('"msg":"reconcile pass"')).length;
  const waitPasses = async (n: number): Promise<void> => {
    const target = passes() + n;
    await eventually(`${n} more reconcile passes`, async () => (passes() >= target ? true : undefined));
  };

  it('checks an image pushed while its notification was lost (the registry restarted), once, as a reconcile check', async function () {
    const img = await image('lost');
    const layout = await mkdtemp(path.join(dir, 'layout-'));
    await writeOciLayout(layout, 'img', img);
    await skopeoCopy(`oci:${layout}:img`, `docker://${registry.host}/team/app:1.0`);
    await registry.restart();

    const listed = await eventually('the image in /v1/images with a verdict', async () => {
      const r = await api<{ images: ImageEntry[] }>(server, '/v1/images?repository=team/app');
      const found = r.body.images.find((i) => i.digest === img.manifestDigest);
      return found?.verdict ? found : undefined;
    });
    assert.deepEqual([listed.registry, listed.tags, listed.current, listed.verdict], [registry.host, ['1.0'], true, 'pass']);

    const checks = await api<{ checks: CheckView[] }>(server, '/v1/checks?repository=team/app');
    assert.equal(checks.body.checks.length, 1);
    const id = checks.body.checks[0]?.id;
    // Later passes list the same tag again: duplicate events, not new checks or new event rows.
    await waitPasses(3);
    const job = await api<CheckView>(server, `/v1/checks/${id}`);
    assert.equal(job.body.priority, 'reconcile');
    assert.deepEqual(job.body.events?.map((e) => [e.receiver, e.tag, e.eventId]), [['reconcile', '1.0', `reconcile:${registry.host}/team/app:1.0@${img.manifestDigest}`]]);
    assert.equal((await api<{ checks: CheckView[] }>(server, '/v1/checks?repository=team/app')).body.checks.length, 1);
    // The gate's own verdicts, pushed next to the image under sha256-… tags, are not images to check.
    assert.deepEqual((await api<{ images: ImageEntry[] }>(server, '/v1/images')).body.images.map((i) => i.digest), [img.manifestDigest]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /imggate_reconcile_images_queued_total 1\b/);
    assert.match(metrics, /imggate_reconcile_passes_total\{outcome="ok"\} [1-9]/);
  });

  it('marks an image deleted from the registry (notification lost too) not current on the next pass', async function () {
    const img = await image('deleted');
    const digest = await pushImage(registry.host, 'solo', 'v1', img);
    await eventually('solo:v1 in /v1/images', async () => {
      const r = await api<{ images: ImageEntry[] }>(server, '/v1/images?repository=solo');
      return r.body.images.some((i) => i.digest === digest) ? true : undefined;
    });
    const del = await fetch(`http://${registry.host}/v2/solo/manifests/${digest}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    await registry.restart();
    await eventually('solo:v1 gone from /v1/images', async () => {
      const r = await api<{ images: ImageEntry[] }>(server, '/v1/images?repository=solo');
      return r.body.images.length === 0 ? true : undefined;
    });
    const all = await api<{ images: ImageEntry[] }>(server, '/v1/images?repository=solo&current=false');
    assert.deepEqual(all.body.images.map((i) => [i.digest, i.tags, i.current, typeof i.removedAt]), [[digest, ['v1'], false, 'string']]);
    // The other repository is untouched.
    assert.equal((await api<{ images: ImageEntry[] }>(server, '/v1/images?repository=team/app')).body.images.length, 1);
  });

  it('forgets an image when the registry notifies its deletion, and lists images whose verdict changed since a time', async function () {
    const img = await image('unwatched');
    const digest = await pushImage(registry.host, 'unwatched/app', 'x', img);
    const before = new Date(Date.now() - 1000).toISOString();
    const asked = await api<{ accepted: Array<{ id: number }> }>(server, '/v1/checks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reference: `${registry.host}/unwatched/app:x` }) });
    assert.equal(asked.status, 202);
    await eventually('a verdict for unwatched/app:x', async () => {
      const r = await api<{ images: ImageEntry[] }>(server, '/v1/images?repository=unwatched/app');
      return r.body.images[0]?.verdict ? true : undefined;
    });
    const changed = await api<{ images: ImageEntry[] }>(server, `/v1/images?changedSince=${encodeURIComponent(before)}`);
    assert.ok(changed.body.images.some((i) => i.digest === digest), 'its first verdict is a change');
    const future = await api<{ images: ImageEntry[] }>(server, `/v1/images?changedSince=${Date.now() + 3_600_000}`);
    assert.deepEqual(future.body.images, []);

    const hook = await fetch(`${server.url}/hooks/distribution`, {
      method: 'POST',
      headers: { authorization: `Bearer ${HOOK_TOKEN}`, 'content-type': V1 },
      body: JSON.stringify({ events: [{ id: 'delete-1', action: 'delete', target: { repository: 'unwatched/app', tag: 'x' }, request: { host: registry.host } }] }),
    });
    assert.equal(hook.status, 200);
    assert.deepEqual((await api<{ images: ImageEntry[] }>(server, '/v1/images?repository=unwatched/app')).body.images, []);
    const bad = await api<{ error: { code: string } }>(server, '/v1/images?cursor=!!');
    assert.equal(bad.status, 400);
  });

  it('reads the catalog across pages', async function () {
    const client = new RegistryClient(registry.host);
    try {
      const img = await image('catalog');
      for (const repo of ['cat/a', 'cat/b', 'cat/c']) await pushImage(registry.host, repo, 't', img, client);
      const names = await client.listRepositories(2);
      for (const repo of ['cat/a', 'cat/b', 'cat/c', 'team/app']) assert.ok(names.includes(repo), `${repo} in ${names.join(', ')}`);
      assert.equal(new Set(names).size, names.length);
    } finally {
      client.close();
    }
  });
});
