import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, Verifier } from '@sigstore/verify';
import { RegistryClient } from '../../src/registry/client.js';
import { attachArtifact, referrersTag } from '../../src/registry/referrers.js';
import type { Report } from '../../src/report/types.js';
import { verifyAttestation } from '../../src/verify-attestation.js';
import { parsePublicKey } from '../../src/attest/keys.js';
import { imggate } from '../harness/cli.js';
import { cosign, emptyTrustedRoot, findCosign } from '../harness/cosign.js';
import { buildImage, pushImage, writeOciLayout, type BuiltImage } from '../harness/images.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { startReferrersApiProxy, startTamperProxy } from '../harness/tamper-proxy.js';

const VSA = 'https://slsa.dev/verification_summary/v1';
const REPORT = 'https://imggate.dev/report/v1';
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

function passing(marker: string, healthcheck = true): Promise<BuiltImage> {
  return buildImage({
    layers: [{ entries: [{ name: 'etc/', type: 'dir' }, { name: `etc/${marker}`, content: marker }] }],
    ...(healthcheck ? { extraConfig: { Healthcheck: { Test: ['CMD', 'true'] } } } : {}),
  });
}

interface Index {
  manifests: Array<{ digest: string; artifactType?: string; annotations?: Record<string, string> }>;
}

describe('signed verdicts: check → referrer → verify-attestation @integration', function () {
  let registry: TestRegistry;
  let tmp: string;
  let client: RegistryClient;
  let app: BuiltImage;
  let key: string;
  let pub: string;
  let otherPub: string;
  const password = 'correct horse battery staple';

  before(async function () {
    registry = await startRegistry();
    client = new RegistryClient(registry.host);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'imggate-attest-'));
    const gen = await imggate(['keys', 'generate', '--output-key-prefix', path.join(tmp, 'gate')], { env: { IMGGATE_KEY_PASSWORD: password } });
    assert.equal(gen.code, 0, gen.stderr);
    key = path.join(tmp, 'gate.key');
    pub = path.join(tmp, 'gate.pub');
    assert.match(await readFile(key, 'utf8'), /BEGIN ENCRYPTED SIGSTORE PRIVATE KEY/);
    const other = await imggate(['keys', 'generate', '--output-key-prefix', path.join(tmp, 'other')]);
    assert.equal(other.code, 0, other.stderr);
    otherPub = path.join(tmp, 'other.pub');
    app = await passing('app');
    await pushImage(registry.host, 'team/app', '1.0', app, client);
  });
  after(async function () {
    client?.close();
    await registry?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  const env = (): NodeJS.ProcessEnv => ({ IMGGATE_KEY_PASSWORD: password, XDG_DATA_HOME: path.join(tmp, 'data') });

  async function tagIndex(repository: string, digest: string): Promise<Index> {
    const fetched = await client.getManifest(repository, referrersTag(digest));
    return JSON.parse(fetched.bytes.toString()) as Index;
  }

  it('signs the verdict, pushes VSA and report as referrers through the tag schema, and verify-attestation accepts it', async function () {
    const r = await imggate(['check', '--format', 'json', '--key', key, `${registry.host}/team/app:1.0`], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.image.digest, app.manifestDigest);
    assert.deepEqual(report.attestations?.map((a) => [a.predicateType, a.via]), [[VSA, 'tag'], [REPORT, 'tag']]);

    // The layout in the registry: the distribution registry has no referrers API, so a sha256-<hex> index.
    const index = await tagIndex('team/app', app.manifestDigest);
    assert.equal(index.manifests.length, 2);
    for (const [i, entry] of index.manifests.entries()) {
      assert.equal(entry.artifactType, BUNDLE);
      assert.equal(entry.annotations?.['dev.sigstore.bundle.predicateType'], [VSA, REPORT][i]);
      assert.equal(entry.digest, report.attestations?.[i]?.manifest);
      const manifest = JSON.parse((await client.getManifest('team/app', entry.digest)).bytes.toString()) as {
        artifactType: string;
        subject: { digest: string; size: number };
        config: { mediaType: string; size: number };
        layers: Array<{ mediaType: string; digest: string }>;
      };
      assert.equal(manifest.artifactType, BUNDLE);
      assert.deepEqual([manifest.subject.digest, manifest.subject.size], [app.manifestDigest, app.manifest.length]);
      assert.deepEqual([manifest.config.mediaType, manifest.config.size], ['application/vnd.oci.empty.v1+json', 2]);
      assert.equal(manifest.layers[0]?.mediaType, BUNDLE);
    }

    const v = await imggate(['verify-attestation', '--key', pub, '--max-age', '1h', '--current-policy', `${registry.host}/team/app:1.0`]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^VERIFIED/);
  });

  it('is verified independently by @sigstore/verify with only the public key', async function () {
    const index = await tagIndex('team/app', app.manifestDigest);
    const vsaEntry = index.manifests.find((m) => m.annotations?.['dev.sigstore.bundle.predicateType'] === VSA);
    assert.ok(vsaEntry);
    const manifest = JSON.parse((await client.getManifest('team/app', vsaEntry.digest)).bytes.toString()) as { layers: Array<{ digest: string; size: number }> };
    const layer = manifest.layers[0];
    assert.ok(layer);
    // Raw HTTP, not imggate's client, for the bytes the independent verifier sees.
    const res = await fetch(`http://${registry.host}/v2/team/app/blobs/${layer.digest}`);
    const bundle = bundleFromJSON(await res.json());
    const publicKey = createPublicKey(await readFile(pub, 'utf8'));
    const verifier = new Verifier(
      { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [], publicKey: () => ({ publicKey, validFor: () => true }) },
      { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 },
    );
    verifier.verify(toSignedEntity(bundle));
    assert.equal(bundle.content.$case, 'dsseEnvelope');
    const statement = JSON.parse(bundle.content.$case === 'dsseEnvelope' ? bundle.content.dsseEnvelope.payload.toString() : '{}') as {
      _type: string;
      subject: Array<{ name: string; digest: { sha256: string } }>;
      predicateType: string;
      predicate: { verificationResult: string; resourceUri: string; policy: { digest: { sha256: string } }; verifier: { id: string } };
    };
    assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
    assert.deepEqual(statement.subject, [{ name: `${registry.host}/team/app`, digest: { sha256: app.manifestDigest.slice(7) } }]);
    assert.equal(statement.predicateType, VSA);
    assert.equal(statement.predicate.verificationResult, 'PASSED');
    assert.equal(statement.predicate.resourceUri, `${registry.host}/team/app@${app.manifestDigest}`);
    assert.match(statement.predicate.policy.digest.sha256, /^[0-9a-f]{64}$/);

    const wrong = createPublicKey(await readFile(otherPub, 'utf8'));
    const wrongVerifier = new Verifier(
      { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [], publicKey: () => ({ publicKey: wrong, validFor: () => true }) },
      { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 },
    );
    assert.throws(() => wrongVerifier.verify(toSignedEntity(bundle)));
  });

  it('is verified by the real cosign verify-attestation --key (Sigstore bundle via the referrers tag)', async function () {
    const bin = await findCosign();
    if (!bin) this.skip();
    const root = await emptyTrustedRoot(tmp);
    const args = ['verify-attestation', '--new-bundle-format', '--insecure-ignore-tlog', '--trusted-root', root, '--allow-insecure-registry', '--key'];
    const ok = await cosign(bin, [...args, pub, '--type', VSA, `${registry.host}/team/app:1.0`]);
    assert.equal(ok.code, 0, ok.stderr);
    const line = ok.stdout.trim().split('\n')[0] ?? '';
    const statement = JSON.parse(Buffer.from((JSON.parse(line) as { payload: string }).payload, 'base64').toString()) as { predicate: { verificationResult: string } };
    assert.equal(statement.predicate.verificationResult, 'PASSED');
    const wrong = await cosign(bin, [...args, otherPub, '--type', VSA, `${registry.host}/team/app:1.0`]);
    assert.notEqual(wrong.code, 0, 'cosign accepted the wrong key');
  });

  it('rejects a wrong key, an attestation moved to another image, a tampered bundle and an expired one', async function () {
    const wrongKey = await imggate(['verify-attestation', '--key', otherPub, `${registry.host}/team/app:1.0`]);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stdout, /SIGNATURE_INVALID/);

    // Copy app's signed VSA onto another image: the signature is valid, the subject is not this image.
    const other = await passing('other');
    await pushImage(registry.host, 'team/other', '1.0', other, client);
    const index = await tagIndex('team/app', app.manifestDigest);
    const vsaEntry = index.manifests.find((m) => m.annotations?.['dev.sigstore.bundle.predicateType'] === VSA);
    assert.ok(vsaEntry);
    const vsaManifest = JSON.parse((await client.getManifest('team/app', vsaEntry.digest)).bytes.toString()) as { layers: Array<{ digest: string; size: number }> };
    const bundle = await client.fetchBlob('team/app', vsaManifest.layers[0] as { digest: string; size: number }, 1 << 20);
    const subject = { mediaType: other.mediaType, digest: other.manifestDigest, size: other.manifest.length };
    const annotations = { 'dev.sigstore.bundle.predicateType': VSA };
    await attachArtifact(client, 'team/other', subject, { artifactType: BUNDLE, blob: bundle, blobMediaType: BUNDLE, annotations });
    const moved = await imggate(['verify-attestation', '--key', pub, `${registry.host}/team/other:1.0`]);
    assert.equal(moved.code, 1);
    assert.match(moved.stdout, /about another image/);

    // The same bundle with its verdict flipped inside the signed payload.
    const json = JSON.parse(bundle.toString()) as { dsseEnvelope: { payload: string } };
    const statement = Buffer.from(json.dsseEnvelope.payload, 'base64').toString().replace(app.manifestDigest.slice(7), other.manifestDigest.slice(7));
    json.dsseEnvelope.payload = Buffer.from(statement).toString('base64');
    await attachArtifact(client, 'team/other', subject, { artifactType: BUNDLE, blob: Buffer.from(JSON.stringify(json)), blobMediaType: BUNDLE, annotations });
    const tampered = await imggate(['verify-attestation', '--key', pub, '--format', 'json', `${registry.host}/team/other:1.0`]);
    assert.equal(tampered.code, 1);
    const result = JSON.parse(tampered.stdout) as { decision: { considered: Array<{ reason: string }> } };
    assert.equal(result.decision.considered.length, 2);
    assert.ok(result.decision.considered.some((c) => /SIGNATURE_INVALID/.test(c.reason)), tampered.stdout);

    // Two days on, a 24-hour limit no longer accepts the verdict.
    const later = new Date(Date.now() + 2 * 86_400_000);
    const publicKey = parsePublicKey(await readFile(pub, 'utf8'), pub);
    const expired = await verifyAttestation(`${registry.host}/team/app:1.0`, { publicKey, maxAgeMs: 86_400_000, now: later });
    assert.equal(expired.decision.passed, false);
    assert.match(expired.decision.considered[0]?.reason ?? '', /older than the allowed age/);
    const fresh = await verifyAttestation(`${registry.host}/team/app:1.0`, { publicKey, maxAgeMs: 86_400_000 });
    assert.equal(fresh.decision.passed, true);

    const otherPolicy = await imggate(['verify-attestation', '--key', pub, '--policy-digest', `sha256:${'0'.repeat(64)}`, `${registry.host}/team/app:1.0`]);
    assert.equal(otherPolicy.code, 1);
    assert.match(otherPolicy.stdout, /made under policy sha256:[0-9a-f]{64}, not sha256:0{64}/);
  });

  it('lets the newest verdict decide: a FAILED check after a PASSED one blocks the deploy', async function () {
    const image = await passing('flip', false);
    await pushImage(registry.host, 'team/flip', '1.0', image, client);
    const first = await imggate(['check', '-q', '--key', key, `${registry.host}/team/flip:1.0`], { env: env() });
    assert.equal(first.code, 0, first.stderr);
    assert.equal((await imggate(['verify-attestation', '--key', pub, `${registry.host}/team/flip:1.0`])).code, 0);
    // Same image, stricter rules: the missing HEALTHCHECK (hygiene, info) now blocks.
    const rules = path.join(tmp, 'strict-rules');
    await cp(path.resolve('rules'), rules, { recursive: true });
    await writeFile(path.join(rules, 'policy.yaml'), 'version: 1\nblockAt: info\nchecks:\n  hygiene: { block: true }\n');
    const second = await imggate(['check', '-q', '--key', key, '--rules', rules, `${registry.host}/team/flip:1.0`], { env: env() });
    assert.equal(second.code, 1, second.stderr);
    const v = await imggate(['verify-attestation', '--key', pub, `${registry.host}/team/flip:1.0`]);
    assert.equal(v.code, 1, v.stdout);
    assert.match(v.stdout, /newest verdict is FAILED/);
  });

  it('keeps every verdict in the store and lists them with history', async function () {
    const h = await imggate(['history', '--format', 'json', `${registry.host}/team/flip`], { env: env() });
    assert.equal(h.code, 0, h.stderr);
    const rows = JSON.parse(h.stdout) as Array<{ verdict: string; digest: string; policyDigest: string; bundle?: unknown; report: Report }>;
    assert.deepEqual(rows.map((r) => r.verdict), ['fail', 'pass']);
    assert.notEqual(rows[0]?.policyDigest, rows[1]?.policyDigest);
    assert.ok(rows.every((r) => r.bundle && r.report.schema === 'imggate.report/v1'));
    const byDigest = await imggate(['history', rows[0]?.digest ?? ''], { env: env() });
    assert.match(byDigest.stdout, /fail .*\n.*pass /);
  });

  it('keeps the referrers index whole when several checks attest the same image at once', async function () {
    const image = await passing('busy');
    await pushImage(registry.host, 'team/busy', '1.0', image, client);
    const runs = await Promise.all(
      Array.from({ length: 5 }, () => imggate(['check', '--format', 'json', '--key', key, `${registry.host}/team/busy:1.0`], { env: env() })),
    );
    const pushed = new Set<string>();
    for (const r of runs) {
      assert.equal(r.code, 0, r.stderr);
      for (const a of (JSON.parse(r.stdout) as Report).attestations ?? []) pushed.add(a.manifest ?? '');
    }
    assert.equal(pushed.size, 10);
    const index = await tagIndex('team/busy', image.manifestDigest);
    assert.deepEqual(new Set(index.manifests.map((m) => m.digest)), pushed);
    const h = await imggate(['history', '--format', 'json', `${registry.host}/team/busy:1.0`], { env: env() });
    assert.equal((JSON.parse(h.stdout) as unknown[]).length, 5);
  });

  it('writes the bundle for a local image with --attestation-out, verifiable before push', async function () {
    const layout = path.join(tmp, 'layout');
    await writeOciLayout(layout, 'app', app);
    const out = path.join(tmp, 'app.sigstore.json');
    const r = await imggate(['check', '-q', '--key', key, '--attestation-out', out, `oci:${layout}:app`], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const v = await imggate(['verify-attestation', '--key', pub, '--bundle', out, app.manifestDigest]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const wrongDigest = await imggate(['verify-attestation', '--key', pub, '--bundle', out, `sha256:${'1'.repeat(64)}`]);
    assert.equal(wrongDigest.code, 1);
  });

  it('refuses to run with a wrong key password, before pulling anything', async function () {
    // Port 1 has no registry: had the image been pulled first, the error would be about the network.
    const r = await imggate(['check', '--key', key, '127.0.0.1:1/team/app:1.0'], { env: { ...env(), IMGGATE_KEY_PASSWORD: 'wrong' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /password does not open it/);
  });

  it('attests a FAILED verdict for an image with a baked secret without carrying the secret', async function () {
    const token = 'ghp_Q7mWv2Lr9XcT4bNs8KdPz1Hy6FgJa3Ue5Roi';
    const image = await buildImage({ layers: [{ entries: [{ name: 'app/', type: 'dir' }, { name: 'app/.env', content: `GITHUB_TOKEN=${token}\n` }] }] });
    await pushImage(registry.host, 'team/leaky', '1.0', image, client);
    const r = await imggate(['check', '--format', 'json', '--key', key, `${registry.host}/team/leaky:1.0`], { env: env() });
    assert.equal(r.code, 1, r.stderr);
    assert.ok((JSON.parse(r.stdout) as Report).findings.some((f) => f.check === 'secret' && f.path === '/app/.env'));
    const index = await tagIndex('team/leaky', image.manifestDigest);
    const statements: string[] = [];
    for (const entry of index.manifests) {
      const manifest = JSON.parse((await client.getManifest('team/leaky', entry.digest)).bytes.toString()) as { layers: Array<{ digest: string; size: number }> };
      const bundle = await client.fetchBlob('team/leaky', manifest.layers[0] as { digest: string; size: number }, 1 << 24);
      assert.ok(!bundle.toString().includes(token));
      statements.push(Buffer.from((JSON.parse(bundle.toString()) as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload, 'base64').toString());
    }
    assert.equal(statements.length, 2);
    for (const statement of statements) assert.ok(!statement.includes(token) && !statement.includes(token.slice(4, 20)), 'the secret leaked into a statement');
    assert.match(statements[0] ?? '', /"verificationResult":"FAILED"/);
    assert.match(statements[1] ?? '', /"fingerprint":"sha256:[0-9a-f]{64}"/);
    const h = await imggate(['history', '--format', 'json', `${registry.host}/team/leaky:1.0`], { env: env() });
    assert.ok(!h.stdout.includes(token));
  });

  it('records in a transparency log only when asked, and says so when the log refuses', async function () {
    // No Rekor server runs on this machine (Debian ships only rekor-cli): a server that answers 503
    // stands in, to show the signed verdict goes to the configured log and a refusal is not silent.
    let posts = 0;
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
      if (req.method === 'POST') posts++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"code":503,"message":"unavailable"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const config = path.join(tmp, 'rekor.yaml');
    await writeFile(config, `attest:\n  rekorUrl: http://127.0.0.1:${port}\n`);
    try {
      const r = await imggate(['check', '-q', '--config', config, '--key', key, `${registry.host}/team/app:1.0`], { env: env() });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`signing the verdict for sha256:[0-9a-f]{64} failed \\(transparency log http://127.0.0.1:${port}\\)`));
      assert.ok(posts >= 1, 'the log was never asked');
      const h = await imggate(['history', '--format', 'json', `${registry.host}/team/app:1.0`], { env: env() });
      const newest = (JSON.parse(h.stdout) as Array<{ verdict: string; bundle?: unknown }>)[0];
      assert.deepEqual([newest?.verdict, newest?.bundle], ['pass', undefined], 'the verdict is kept, unsigned');
      // Without rekorUrl nothing is sent anywhere (the stand-in is still listening).
      const before = posts;
      const offline = await imggate(['check', '-q', '--key', key, `${registry.host}/team/app:1.0`], { env: env() });
      assert.equal(offline.code, 0, offline.stderr);
      assert.equal(posts, before);
    } finally {
      server.close();
    }
  });

  it('uses the referrers API where the registry has one: no fallback tag is written', async function () {
    // A proxy adds the API to the real registry (see startReferrersApiProxy: no registry with the API is packaged here).
    const proxy = await startReferrersApiProxy(registry.host);
    try {
      const image = await passing('api');
      await pushImage(registry.host, 'team/api', '1.0', image, client);
      const r = await imggate(['check', '--format', 'json', '--key', key, `${proxy.host}/team/api:1.0`], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as Report).attestations?.map((a) => a.via), ['api', 'api']);
      assert.equal(proxy.indexed(), 2);
      await assert.rejects(client.getManifest('team/api', referrersTag(image.manifestDigest)), (err: { code?: string }) => err.code === 'NOT_FOUND');
      const v = await imggate(['verify-attestation', '--key', pub, '--format', 'json', `${proxy.host}/team/api:1.0`]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      assert.equal((JSON.parse(v.stdout) as { via: string }).via, 'api');
      // Through the bare registry (no API, no tag) there is nothing to find: the verdict lives in the API's index.
      const bare = await imggate(['verify-attestation', '--key', pub, `${registry.host}/team/api:1.0`]);
      assert.equal(bare.code, 1);
    } finally {
      await proxy.stop();
    }
  });

  it('fails the run when the attestation cannot be pushed, and still keeps the verdict', async function () {
    const proxy = await startTamperProxy(registry.host, () => false, { refuseWrites: true });
    try {
      const ref = `${proxy.host}/team/app:1.0`;
      const r = await imggate(['check', '--format', 'json', '--key', key, ref], { env: env() });
      assert.equal(r.code, 2, r.stderr);
      assert.equal((JSON.parse(r.stdout) as Report).verdict, 'pass');
      assert.match(r.stderr, /pushing the attestations for sha256:[0-9a-f]{64} failed: AUTH_FAILED/);
      const h = await imggate(['history', ref], { env: env() });
      assert.match(h.stdout, /pass .* yes {5}/);
    } finally {
      await proxy.stop();
    }
  });
});
