import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { signStandardWebhook } from '../../src/server/auth.js';
import { RegistryClient } from '../../src/registry/client.js';
import { referrersTag } from '../../src/registry/referrers.js';
import { imggate } from '../harness/cli.js';
import { buildImage, skopeoCopy, writeOciLayout, type BuiltImage } from '../harness/images.js';
import { freePort } from '../harness/process.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { eventually, startServeProcess, type ServeProcess } from '../server/serve-process.js';
import { startThrottleProxy, type ThrottleProxy } from '../server/throttle-proxy.js';

const HOOK_TOKEN = 'hook-token-0123456789abcdef';
const WRITE_TOKEN = 'api-write-token-0123456789';
const READ_TOKEN = 'api-read-token-0123456789ab';
const WHSEC = `whsec_${Buffer.from('standard-webhooks-test-secret-32b').toString('base64')}`;
const PASSWORD = 'serve test key password';
const V1 = 'application/vnd.docker.distribution.events.v1+json';

interface CheckView {
  id: number;
  state: string;
  verdict?: string;
  attempts: number;
  events?: Array<{ receiver: string; tag?: string }>;
  verdicts?: Array<{ verdict: string; attestations?: Array<{ manifest?: string }> }>;
}

function config(dir: string, allowed: readonly string[], extra = ''): string {
  return `store:
  dir: ${path.join(dir, 'store')}
attest:
  key: ${path.join(dir, 'gate.key')}
serve:
  listen: 127.0.0.1:0
  allowRegistries: [${allowed.join(', ')}]
  concurrency: 2
  lease: 10s
  backoff: 1s
  checkTimeout: 120s
  bodyLimit: 64KiB
  drainTimeout: 2s
  receivers:
    distribution:
      type: distribution
      auth: { kind: token, token: { env: HOOK_TOKEN } }
    harbor:
      type: harbor
      auth: { kind: token, token: { value: ${HOOK_TOKEN} } }
    signed:
      type: generic
      auth: { kind: standard-webhooks, secret: { env: WHSEC } }
  apiTokens:
    - { name: ci, token: { env: WRITE_TOKEN }, scopes: [read, write] }
    - { name: dashboard, token: { value: ${READ_TOKEN} }, scopes: [read] }
${extra}`;
}

const ENV = { HOOK_TOKEN, WRITE_TOKEN, WHSEC, IMGGATE_KEY_PASSWORD: PASSWORD };

async function api<T>(server: ServeProcess, p: string, init: RequestInit = {}, token = READ_TOKEN): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}${p}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) } });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

function image(marker: string, layerBytes = 0): Promise<BuiltImage> {
  const entries: Array<{ name: string; type?: 'dir'; content?: string | Buffer }> = [{ name: 'etc/', type: 'dir' }, { name: `etc/${marker}`, content: marker }];
  // Random bytes do not compress: the layer on the wire is as large as asked.
  if (layerBytes) entries.push({ name: 'opt/blob.bin', content: randomBytes(layerBytes) });
  return buildImage({ layers: [{ entries }], extraConfig: { Healthcheck: { Test: ['CMD', 'true'] } } });
}

async function push(dir: string, img: BuiltImage, to: string): Promise<void> {
  const layout = await mkdtemp(path.join(dir, 'layout-'));
  await writeOciLayout(layout, 'img', img);
  await skopeoCopy(`oci:${layout}:img`, `docker://${to}`);
}

async function verdictFor(server: ServeProcess, digest: string): Promise<{ verdict: string; checkId?: number; attestations?: Array<{ manifest?: string; via?: string }> }> {
  return eventually(`a verdict for ${digest}`, async () => {
    const r = await api<{ verdict: string; checkId?: number }>(server, `/v1/images/${digest}`);
    return r.status === 200 ? r.body : undefined;
  });
}

describe('imggate serve: the real registry notifies the real service @integration', function () {
  let dir: string;
  let registry: TestRegistry;
  let server: ServeProcess;

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-serve-'));
    const gen = await imggate(['keys', 'generate', '--output-key-prefix', path.join(dir, 'gate')], { env: { IMGGATE_KEY_PASSWORD: PASSWORD } });
    assert.equal(gen.code, 0, gen.stderr);
    // The service's port must be known before the registry starts: the registry's config names it.
    const port = await freePort();
    const registryPort = await freePort();
    server = await startServeProcess(dir, config(dir, [`127.0.0.1:${registryPort}`]).replace('127.0.0.1:0', `127.0.0.1:${port}`), ENV);
    registry = await startRegistry({ kind: 'none' }, { port: registryPort, notifications: { url: `${server.url}/hooks/distribution`, token: HOOK_TOKEN } });
  });
  after(async function () {
    await server?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('checks a tag pushed with skopeo, stores the verdict and pushes it, signed, next to the image', async function () {
    const img = await image('pushed');
    await push(dir, img, `${registry.host}/team/app:1.0`);
    const v = await verdictFor(server, img.manifestDigest);
    assert.equal(v.verdict, 'pass');
    assert.ok(v.checkId);
    const client = new RegistryClient(registry.host);
    try {
      const index = JSON.parse((await client.getManifest('team/app', referrersTag(img.manifestDigest))).bytes.toString()) as { manifests: Array<{ digest: string }> };
      assert.equal(index.manifests.length, 2, 'VSA and report next to the image');
      assert.deepEqual(v.attestations?.map((a) => a.manifest).sort(), index.manifests.map((m) => m.digest).sort());
    } finally {
      client.close();
    }
    const verify = await imggate(['verify-attestation', '--key', path.join(dir, 'gate.pub'), '--max-age', '1h', `${registry.host}/team/app:1.0`]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const job = await api<CheckView>(server, `/v1/checks/${v.checkId}`);
    assert.deepEqual([job.body.state, job.body.verdict, job.body.verdicts?.length], ['done', 'pass', 1]);
    assert.deepEqual(job.body.events?.map((e) => [e.receiver, e.tag]), [['distribution', '1.0']]);
    // Retagging the same digest is linked to the same check, not checked again.
    await push(dir, img, `${registry.host}/team/app:latest`);
    const linked = await eventually('the retag event', async () => {
      const r = await api<CheckView>(server, `/v1/checks/${v.checkId}`);
      return (r.body.events?.length ?? 0) >= 2 ? r.body : undefined;
    });
    assert.deepEqual(linked.events?.map((e) => e.tag).sort(), ['1.0', 'latest']);
    assert.equal(linked.verdicts?.length, 1);
    const list = await api<{ checks: CheckView[] }>(server, '/v1/checks?repository=team/app&verdict=pass');
    assert.deepEqual(list.body.checks.map((c) => c.id), [v.checkId]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /imggate_checks_total\{verdict="pass"\} 1/);
    assert.match(metrics, /imggate_dedupe_hits_total [1-9]/);
    assert.match(metrics, /imggate_requests_total\{receiver="distribution",status="202"\}/);
  });

  it('answers bad tokens, content types, sizes and payloads with 401, 415, 413 and 400', async function () {
    const event = JSON.stringify({ events: [{ id: 'x', action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'a/b', digest: `sha256:${'a'.repeat(64)}`, url: `http://${registry.host}/v2/a/b/manifests/sha256:${'a'.repeat(64)}` } }] });
    const now = Math.floor(Date.now() / 1000);
    const signed = JSON.stringify({ type: 'image.pushed', data: { registry: registry.host, repository: 'a/b', digest: `sha256:${'b'.repeat(64)}` } });
    const cases: Array<[string, string, RequestInit, number]> = [
      ['no token', '/hooks/distribution', { method: 'POST', headers: { 'content-type': V1 }, body: event }, 401],
      ['wrong token', '/hooks/distribution', { method: 'POST', headers: { 'content-type': V1, authorization: 'Bearer nope-nope-nope-nope' }, body: event }, 401],
      ['token one character off', '/hooks/distribution', { method: 'POST', headers: { 'content-type': V1, authorization: `Bearer ${HOOK_TOKEN.slice(0, -1)}x` }, body: event }, 401],
      ['unknown receiver', '/hooks/nobody', { method: 'POST', headers: { 'content-type': V1, authorization: `Bearer ${HOOK_TOKEN}` }, body: event }, 401],
      ['bad signature', '/hooks/signed', { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': 'm1', 'webhook-timestamp': String(now), 'webhook-signature': signStandardWebhook(WHSEC, 'm1', now, `${signed} `) }, body: signed }, 401],
      ['replayed outside the window', '/hooks/signed', { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': 'm2', 'webhook-timestamp': String(now - 3600), 'webhook-signature': signStandardWebhook(WHSEC, 'm2', now - 3600, signed) }, body: signed }, 401],
      ['API without token', '/v1/checks', { method: 'GET' }, 401],
      ['unknown content type', '/hooks/distribution', { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${HOOK_TOKEN}` }, body: event }, 415],
      ['no content type', '/hooks/harbor', { method: 'POST', headers: { authorization: HOOK_TOKEN }, body: event }, 415],
      ['oversized', '/hooks/distribution', { method: 'POST', headers: { 'content-type': V1, authorization: `Bearer ${HOOK_TOKEN}` }, body: 'x'.repeat(65 * 1024) }, 413],
      ['not JSON', '/hooks/distribution', { method: 'POST', headers: { 'content-type': V1, authorization: `Bearer ${HOOK_TOKEN}` }, body: '{"events": [' }, 400],
      ['not the schema', '/hooks/distribution', { method: 'POST', headers: { 'content-type': V1, authorization: `Bearer ${HOOK_TOKEN}` }, body: '{"events": [{"id": 1}]}' }, 400],
      ['digest not sha256', '/hooks/distribution', { method: 'POST', headers: { 'content-type': V1, authorization: `Bearer ${HOOK_TOKEN}` }, body: event.replaceAll('a'.repeat(64), 'zz') }, 400],
      ['a bad API request', '/v1/checks', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE_TOKEN}` }, body: '{"reference": 5}' }, 400],
    ];
    const bodies401 = new Set<string>();
    for (const [why, p, init, status] of cases) {
      const headers = { ...(init.headers as Record<string, string> | undefined) };
      const res = await fetch(`${server.url}${p}`, { ...init, headers });
      const text = await res.text();
      assert.equal(res.status, status, `${why}: ${text}`);
      if (status === 401) bodies401.add(text);
    }
    assert.equal(bodies401.size, 1, 'every authentication failure gets the same answer');
    const readOnly = await api(server, '/v1/checks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reference": "x/y:1"}' }, READ_TOKEN);
    assert.equal(readOnly.status, 403);
    const pulls = JSON.stringify({ events: [{ id: 'p', action: 'pull', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'a/b', digest: `sha256:${'c'.repeat(64)}` } }] });
    const ignored = await fetch(`${server.url}/hooks/distribution`, { method: 'POST', headers: { 'content-type': V1, authorization: `Bearer ${HOOK_TOKEN}` }, body: pulls });
    assert.deepEqual([ignored.status, await ignored.json()], [200, { accepted: [] }]);
    const ok = await fetch(`${server.url}/hooks/signed`, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': 'm3', 'webhook-timestamp': String(now), 'webhook-signature': signStandardWebhook(WHSEC, 'm3', now, signed) }, body: signed });
    assert.equal(ok.status, 202);
    // The logs name receivers and codes; never a token or a body.
    for (const secret of [HOOK_TOKEN, WRITE_TOKEN, READ_TOKEN, WHSEC, '{"events"']) assert.ok(!server.logs().includes(secret), `the log carries ${secret.slice(0, 8)}…`);
  });

  it('refuses events naming a registry off the allowlist without connecting to it', async function () {
    let connections = 0;
    const trap = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
    const foreign = `127.0.0.1:${(trap.address() as net.AddressInfo).port}`;
    try {
      const now = Math.floor(Date.now() / 1000);
      const signed = JSON.stringify({ type: 'image.pushed', data: { registry: foreign, repository: 'evil/app', tag: 'latest' } });
      const cases: Array<[string, string, RequestInit]> = [
        ['distribution event', '/hooks/distribution', { method: 'POST', headers: { 'content-type': V1, authorization: `Bearer ${HOOK_TOKEN}` }, body: JSON.stringify({ events: [{ id: 'f1', action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'evil/app', digest: `sha256:${'d'.repeat(64)}`, url: `http://${foreign}/v2/evil/app/manifests/sha256:${'d'.repeat(64)}` } }] }) }],
        ['Harbor event by tag', '/hooks/harbor', { method: 'POST', headers: { 'content-type': 'application/json', authorization: HOOK_TOKEN }, body: JSON.stringify({ type: 'PUSH_ARTIFACT', occur_at: 1, event_data: { resources: [{ tag: 'latest', resource_url: `${foreign}/evil/app:latest` }] } }) }],
        ['signed event by tag', '/hooks/signed', { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': 'f3', 'webhook-timestamp': String(now), 'webhook-signature': signStandardWebhook(WHSEC, 'f3', now, signed) }, body: signed }],
        ['API check by tag', '/v1/checks', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE_TOKEN}` }, body: JSON.stringify({ reference: `${foreign}/evil/app:latest` }) }],
      ];
      for (const [why, p, init] of cases) {
        const res = await fetch(`${server.url}${p}`, init);
        const body = (await res.json()) as { error?: { code: string } };
        assert.deepEqual([res.status, body.error?.code], [403, 'REGISTRY_NOT_ALLOWED'], why);
      }
      // Let any stray connection attempt land before counting.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(connections, 0);
    } finally {
      trap.close();
    }
  });

  it('serves an OpenAPI 3.1 document generated from the request schemas, and health endpoints', async function () {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, { post?: { requestBody?: { content: Record<string, { schema: { $ref?: string } }> } } }>;
      components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
    };
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.paths['/v1/checks']?.post?.requestBody?.content['application/json']?.schema.$ref, '#/components/schemas/CheckRequest');
    const request = doc.components.schemas['CheckRequest'];
    assert.deepEqual([Object.keys(request?.properties ?? {}).sort(), request?.required], [['priority', 'reference'], ['reference']]);
    // Every $ref in the document resolves.
    for (const [, id] of JSON.stringify(doc).matchAll(/"#\/components\/schemas\/([A-Za-z]+)"/g)) assert.ok(doc.components.schemas[id as string], `${id} is defined`);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.deepEqual(await (await fetch(`${server.url}/readyz`)).json(), { store: true, workers: true });
  });
});

describe('imggate serve: kill -9 in the middle of a check @integration', function () {
  let dir: string;
  let registry: TestRegistry;
  let proxy: ThrottleProxy;
  const rounds = Number(process.env['IMGGATE_SOAK_ROUNDS'] ?? 1);

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-serve-kill-'));
    const gen = await imggate(['keys', 'generate', '--output-key-prefix', path.join(dir, 'gate')], { env: { IMGGATE_KEY_PASSWORD: PASSWORD } });
    assert.equal(gen.code, 0, gen.stderr);
    registry = await startRegistry();
    // 256 KiB/s: a 1 MiB layer takes about four seconds to pull, long enough to be killed mid-layer.
    proxy = await startThrottleProxy(registry.host, 256 * 1024);
  });
  const spawned: ServeProcess[] = [];
  after(async function () {
    // A failed round must not leave a service running (stop is a no-op for one that exited).
    for (const s of spawned) await s.stop('SIGKILL');
    await proxy?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it(`completes the job after a restart, with exactly one verdict (${rounds} round(s))`, async function () {
    const port = await freePort();
    const cfg = config(dir, [proxy.host]).replace('127.0.0.1:0', `127.0.0.1:${port}`);
    for (let round = 0; round < rounds; round++) {
      let server = await startServeProcess(dir, cfg, ENV);
      spawned.push(server);
      const img = await image(`kill-${round}`, 900 * 1024);
      // Pushed straight to the registry; the check is asked for through the throttled host.
      await push(dir, img, `${registry.host}/team/slow:${round}`);
      const reads = proxy.blobReads.length;
      const asked = await api<{ accepted: Array<{ id: number }> }>(server, '/v1/checks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reference: `${proxy.host}/team/slow:${round}` }) }, WRITE_TOKEN);
      assert.equal(asked.status, 202, JSON.stringify(asked.body));
      const id = asked.body.accepted[0]?.id;
      assert.ok(id);
      // Kill at a random point of the layer: somewhere between 5% and 80% of its bytes.
      const killAt = Math.floor(img.layers[0]!.size * (0.05 + Math.random() * 0.75));
      // Generous: worker processes start slowly on a loaded machine.
      await eventually('the layer mid-stream', async () => (proxy.blobReads.slice(reads).some((n) => n >= killAt) ? true : undefined), 180_000);
      server.child.kill('SIGKILL');
      await server.exited();
      server = await startServeProcess(dir, cfg, ENV);
      spawned.push(server);
      try {
        const done = await eventually('the job to finish after the restart', async () => {
          const r = await api<CheckView>(server, `/v1/checks/${id}`);
          return r.body.state === 'done' || r.body.state === 'failed' ? r.body : undefined;
        });
        assert.deepEqual([done.state, done.verdict, done.verdicts?.length], ['done', 'pass', 1], `round ${round}: ${JSON.stringify(done)}`);
        assert.ok(done.attempts >= 2, 'the killed attempt counted');
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        assert.match(metrics, /imggate_lease_expiries_total [1-9]/);
      } finally {
        await server.stop();
      }
    }
  });

  it('records a check that outgrows limits.maxHeap in its worker as an error verdict, and goes on with a fresh worker', async function () {
    const port = await freePort();
    const server = await startServeProcess(dir, config(dir, [registry.host], 'limits:\n  maxHeap: 96MiB\n').replace('127.0.0.1:0', `127.0.0.1:${port}`), ENV);
    spawned.push(server);
    try {
      // A config of 3 MB (under skopeo's 4 MiB) that is a million small objects once parsed: far more
      // than the 96 MiB heap holds, while a usual check needs about a third of it.
      const big = await buildImage({ layers: [{ entries: [{ name: 'a', content: 'a' }] }], extraConfig: { Padding: Array.from({ length: 1_000_000 }, () => ({})) } });
      await push(dir, big, `${registry.host}/team/heap:big`);
      const small = await image('after-heap');
      await push(dir, small, `${registry.host}/team/heap:small`);
      const ask = async (tag: string): Promise<number> => {
        const r = await api<{ accepted: Array<{ id: number }> }>(server, '/v1/checks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reference: `${registry.host}/team/heap:${tag}` }) }, WRITE_TOKEN);
        assert.equal(r.status, 202, JSON.stringify(r.body));
        return r.body.accepted[0]?.id as number;
      };
      const finished = (id: number) =>
        eventually(`check ${id} to finish`, async () => {
          const r = await api<CheckView>(server, `/v1/checks/${id}`);
          return r.body.state === 'done' || r.body.state === 'failed' ? r.body : undefined;
        });
      const bigDone = await finished(await ask('big'));
      assert.deepEqual([bigDone.state, bigDone.verdict, bigDone.attempts], ['done', 'error', 1], JSON.stringify(bigDone));
      const report = await api<{ verdict: string; report: { error?: { code: string; message: string } } }>(server, `/v1/images/${big.manifestDigest}`);
      assert.equal(report.body.report.error?.code, 'LIMIT_EXCEEDED');
      assert.match(report.body.report.error?.message ?? '', /more than 96 MiB of heap \(limits\.maxHeap\)/);
      const smallDone = await finished(await ask('small'));
      assert.deepEqual([smallDone.state, smallDone.verdict], ['done', 'pass'], JSON.stringify(smallDone));
    } finally {
      await server.stop();
    }
  });

  it('exits 0 on SIGTERM and gives running jobs back', async function () {
    const port = await freePort();
    const server = await startServeProcess(dir, config(dir, [proxy.host]).replace('127.0.0.1:0', `127.0.0.1:${port}`), ENV);
    try {
      const img = await image('drain', 900 * 1024);
      await push(dir, img, `${registry.host}/team/drain:1`);
      const reads = proxy.blobReads.length;
      const asked = await api<{ accepted: Array<{ id: number }> }>(server, '/v1/checks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reference: `${proxy.host}/team/drain:1` }) }, WRITE_TOKEN);
      const id = asked.body.accepted[0]?.id;
      // The layer (the largest blob) is mid-stream: more than the config's few hundred bytes went out.
      await eventually('the layer mid-stream', async () => (proxy.blobReads.slice(reads).some((n) => n > 64 * 1024) ? true : undefined), 180_000);
      assert.equal(await server.stop('SIGTERM'), 0, server.logs());
      assert.match(server.logs(), new RegExp(`"msg":"job released at shutdown","job":${id},"released":true`));
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
