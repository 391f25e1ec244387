import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { check } from '../../src/index.js';
import { RegistryClient } from '../../src/registry/client.js';
import { attachArtifact } from '../../src/registry/referrers.js';
import type { Report } from '../../src/report/types.js';
import { imggate } from '../harness/cli.js';
import { cosign, findCosign } from '../harness/cosign.js';
import { buildImage, pushImage, pushIndex, sha256, writeOciLayout, type BuiltImage } from '../harness/images.js';
import { makeCa, makeFulcioLeaf, makeLeaf, makeSigstorePki, notationJws, timestamp, type Cert, type SigstorePki } from '../harness/pki.js';
import { bundleToJSON, toDSSEBundle } from '@sigstore/bundle';
import { dsse } from '@sigstore/core';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { startReferrersApiProxy } from '../harness/tamper-proxy.js';

const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';

function image(marker: string, platform?: { os: string; architecture: string }): Promise<BuiltImage> {
  return buildImage({
    layers: [{ entries: [{ name: 'etc/', type: 'dir' }, { name: `etc/${marker}`, content: marker }] }],
    extraConfig: { Healthcheck: { Test: ['CMD', 'true'] } },
    ...(platform ? { platform } : {}),
  });
}

/** Pushes a cosign-layout `.sig` manifest (what `cosign sign` writes) made by the test: payload and signature given. */
async function pushSigTag(client: RegistryClient, repository: string, digest: string, payload: Buffer, signature: string): Promise<void> {
  const config = await client.pushBlob(repository, Buffer.from('{}'), 'application/vnd.oci.image.config.v1+json');
  const layer = await client.pushBlob(repository, payload, SIMPLE_SIGNING);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config,
    layers: [{ ...layer, annotations: { 'dev.cosignproject.cosign/signature': signature } }],
  }));
  await client.pushManifest(repository, `sha256-${digest.slice(7)}.sig`, manifest, 'application/vnd.oci.image.manifest.v1+json');
}

function simpleSigning(repository: string, digest: string): Buffer {
  return Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': repository }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null }));
}

describe('trust: cosign and Notation signatures under per-scope policy @integration', function () {
  let registry: TestRegistry;
  let client: RegistryClient;
  let root: string;
  let cosignBin: string | undefined;
  let ca: Cert;
  let otherCa: Cert;
  let leaf: Cert;
  const env: NodeJS.ProcessEnv = { COSIGN_PASSWORD: 'pw' };

  before(async function () {
    registry = await startRegistry();
    client = new RegistryClient(registry.host);
    root = await mkdtemp(path.join(os.tmpdir(), 'imggate-trust-'));
    await mkdir(path.join(root, 'keys', 'notation', 'truststore', 'x509', 'ca', 'acme'), { recursive: true });
    await mkdir(path.join(root, 'pki'));
    cosignBin = await findCosign();
    if (cosignBin) {
      for (const name of ['release', 'intruder']) {
        const r = await cosign(cosignBin, ['generate-key-pair', '--output-key-prefix', path.join(root, 'keys', name)], env);
        assert.equal(r.code, 0, r.stderr);
      }
    }
    // Keys of the other types cosign verifies, for signatures made by the test's own producer.
    for (const [name, type, opts] of [['ed', 'ed25519', {}], ['rsa', 'rsa', { modulusLength: 2048 }], ['p384', 'ec', { namedCurve: 'secp384r1' }]] as const) {
      const pair = generateKeyPairSync(type as 'ec', opts as { namedCurve: string });
      await writeFile(path.join(root, 'keys', `${name}.pub`), pair.publicKey.export({ type: 'spki', format: 'pem' }));
      await writeFile(path.join(root, 'keys', `${name}.key`), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    }
    ca = await makeCa(path.join(root, 'pki'), 'acme-ca', '/C=US/O=Acme/CN=Acme Root');
    otherCa = await makeCa(path.join(root, 'pki'), 'other-ca', '/C=US/O=Other/CN=Other Root');
    leaf = await makeLeaf(path.join(root, 'pki'), 'release', ca, '/C=US/O=Acme/OU=Builds/CN=Release Signer');
    await writeFile(path.join(root, 'keys', 'notation', 'truststore', 'x509', 'ca', 'acme', 'root.pem'), ca.pem);
  });
  after(async function () {
    client?.close();
    await registry?.stop();
    await rm(root, { recursive: true, force: true });
  });

  let n = 0;
  /** A rules directory under the test project with this trust.yaml; keys/ is beside it. */
  async function rulesWith(trust: string): Promise<string> {
    const dir = path.join(root, `rules-${++n}`);
    await cp(path.resolve('rules'), dir, { recursive: true });
    await writeFile(path.join(dir, 'trust.yaml'), trust);
    // Paths in trust.yaml are relative to the rules directory's parent: the test project root.
    return dir;
  }

  async function gate(rules: string, ref: string): Promise<{ code: number; report: Report; stderr: string }> {
    const r = await imggate(['check', '--no-attest', '--format', 'json', '--rules', rules, ref]);
    return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
  }

  const cosignTrust = (key: string, level = 'enforce', extra = ''): string =>
    `version: 1\nsigners:\n  release: { cosign: { key: ${key} } }\n${extra}scopes:\n  - match: '${registry.host}/**'\n    level: ${level}\n    signers: [release]\n`;

  it('accepts the real cosign sign --key (tag-based .sig), and refuses it under the wrong key', async function () {
    if (!cosignBin) this.skip();
    const img = await image('tagsig');
    const digest = await pushImage(registry.host, 'team/tagsig', '1.0', img, client);
    const s = await cosign(cosignBin, ['sign', '--key', path.join(root, 'keys', 'release.key'), '--tlog-upload=false', '--allow-insecure-registry', '-y', `${registry.host}/team/tagsig@${digest}`], env);
    assert.equal(s.code, 0, s.stderr);
    const ok = await gate(await rulesWith(cosignTrust('keys/release.pub')), `${registry.host}/team/tagsig:1.0`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(ok.report.signatures.map((x) => [x.format, x.verified, x.signer]), [['cosign', true, 'release']]);
    assert.deepEqual(ok.report.trust, { level: 'enforce', scope: 'trust.yaml scopes[0]' });

    const wrong = await gate(await rulesWith(cosignTrust('keys/intruder.pub')), `${registry.host}/team/tagsig:1.0`);
    assert.equal(wrong.code, 1);
    const f = wrong.report.findings.find((x) => x.check === 'signature');
    assert.equal(f?.rule, 'untrusted-signature');
    assert.equal(f?.blocking, true);
    assert.match(wrong.report.signatures[0]?.reason ?? '', /does not verify with the key/);
  });

  it('accepts cosign\'s OCI 1.1 referrer signature and its Sigstore bundle attestation (tag fallback)', async function () {
    if (!cosignBin) this.skip();
    const key = path.join(root, 'keys', 'release.key');
    const a = await image('referrer');
    const da = await pushImage(registry.host, 'team/referrer', '1.0', a, client);
    const s = await cosign(cosignBin, ['sign', '--key', key, '--tlog-upload=false', '--allow-insecure-registry', '-y', '--registry-referrers-mode=oci-1-1', `${registry.host}/team/referrer@${da}`], { ...env, COSIGN_EXPERIMENTAL: '1' });
    assert.equal(s.code, 0, s.stderr);
    const rules = await rulesWith(cosignTrust('keys/release.pub'));
    const ra = await gate(rules, `${registry.host}/team/referrer:1.0`);
    assert.equal(ra.code, 0, ra.stderr);
    assert.deepEqual(ra.report.signatures.map((x) => [x.format, x.verified]), [['cosign', true]]);
    assert.match(ra.report.signatures[0]?.uri ?? '', /@sha256:/, 'found as a referrer, not a .sig tag');

    const b = await image('bundle');
    const db = await pushImage(registry.host, 'team/bundle', '1.0', b, client);
    const predicate = path.join(root, 'predicate.json');
    await writeFile(predicate, JSON.stringify({ builder: 'ci' }));
    const at = await cosign(cosignBin, ['attest', '--key', key, '--tlog-upload=false', '--allow-insecure-registry', '-y', '--new-bundle-format', '--type', 'https://example.com/build/v1', '--predicate', predicate, `${registry.host}/team/bundle@${db}`], env);
    assert.equal(at.code, 0, at.stderr);
    const rb = await gate(rules, `${registry.host}/team/bundle:1.0`);
    assert.equal(rb.code, 0, rb.stderr);
    assert.deepEqual(rb.report.signatures.map((x) => [x.format, x.verified]), [['sigstore-bundle', true]]);
  });

  it('finds cosign\'s referrer signature through the referrers API where the registry has one', async function () {
    if (!cosignBin) this.skip();
    // The API is added by a proxy in front of the real registry (none with the API is packaged here).
    const proxy = await startReferrersApiProxy(registry.host);
    try {
      const img = await image('via-api');
      const digest = await pushImage(registry.host, 'team/via-api', '1.0', img, client);
      const s = await cosign(cosignBin, ['sign', '--key', path.join(root, 'keys', 'release.key'), '--tlog-upload=false', '--allow-insecure-registry', '-y', '--registry-referrers-mode=oci-1-1', `${proxy.host}/team/via-api@${digest}`], { ...env, COSIGN_EXPERIMENTAL: '1' });
      assert.equal(s.code, 0, s.stderr);
      assert.equal(proxy.indexed(), 1);
      await assert.rejects(client.getManifest('team/via-api', `sha256-${digest.slice(7)}`), (err: { code?: string }) => err.code === 'NOT_FOUND', 'cosign saw OCI-Subject and wrote no fallback tag');
      const r = await gate(await rulesWith(cosignTrust('keys/release.pub').replace(registry.host, proxy.host)), `${proxy.host}/team/via-api:1.0`);
      assert.equal(r.code, 0, JSON.stringify(r.report.signatures));
      assert.deepEqual(r.report.signatures.map((x) => [x.format, x.verified]), [['cosign', true]]);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses a payload for another digest, a tampered payload and a signature copied from another repository', async function () {
    if (!cosignBin) this.skip();
    const key = path.join(root, 'keys', 'release.key');
    const rules = await rulesWith(cosignTrust('keys/release.pub'));
    const signed = await image('signed');
    const ds = await pushImage(registry.host, 'team/copy', 'signed', signed, client);
    assert.equal((await cosign(cosignBin, ['sign', '--key', key, '--tlog-upload=false', '--allow-insecure-registry', '-y', `${registry.host}/team/copy@${ds}`], env)).code, 0);
    const sigManifest = await client.getManifest('team/copy', `sha256-${ds.slice(7)}.sig`);

    // The valid .sig of one image placed under another image's .sig tag: the payload names the first digest.
    const other = await image('other');
    const dother = await pushImage(registry.host, 'team/copy', 'other', other, client);
    await client.pushManifest('team/copy', `sha256-${dother.slice(7)}.sig`, sigManifest.bytes, 'application/vnd.oci.image.manifest.v1+json');
    const moved = await gate(rules, `${registry.host}/team/copy:other`);
    assert.equal(moved.code, 1);
    assert.match(moved.report.signatures[0]?.reason ?? '', /signed payload is for sha256:[0-9a-f]{64}, not/);

    // The same signature over a payload edited to name the other image: the signature no longer verifies.
    const parsed = JSON.parse(sigManifest.bytes.toString()) as { layers: Array<{ annotations: Record<string, string> }> };
    const signature = parsed.layers[0]?.annotations['dev.cosignproject.cosign/signature'] ?? '';
    await pushSigTag(client, 'team/copy', dother, simpleSigning(`${registry.host}/team/copy`, dother), signature);
    const tampered = await gate(rules, `${registry.host}/team/copy:other`);
    assert.equal(tampered.code, 1);
    assert.match(tampered.report.signatures[0]?.reason ?? '', /does not verify with the key/);

    // Image and its valid signature copied, byte for byte, into another repository.
    await pushImage(registry.host, 'evil/copy', 'signed', signed, client);
    const sigParts = JSON.parse(sigManifest.bytes.toString()) as { config: { digest: string; size: number; mediaType: string }; layers: Array<{ digest: string; size: number; mediaType: string }> };
    for (const blob of [sigParts.config, ...sigParts.layers]) {
      await client.pushBlob('evil/copy', await client.fetchBlob('team/copy', blob, 1 << 20), blob.mediaType);
    }
    await client.pushManifest('evil/copy', `sha256-${ds.slice(7)}.sig`, sigManifest.bytes, 'application/vnd.oci.image.manifest.v1+json');
    const copied = await gate(rules, `${registry.host}/evil/copy:signed`);
    assert.equal(copied.code, 1);
    assert.match(copied.report.signatures[0]?.reason ?? '', /names repository .*team\/copy, not .*evil\/copy/);
    // A signer that allows any repository accepts the copy: the check is the configurable one.
    const lenient = await gate(await rulesWith(`version: 1\nsigners:\n  release: { cosign: { key: keys/release.pub, dockerReference: any } }\nscopes:\n  - match: '${registry.host}/**'\n    level: enforce\n    signers: [release]\n`), `${registry.host}/evil/copy:signed`);
    assert.equal(lenient.code, 0, JSON.stringify(lenient.report.signatures));
  });

  it('keys generate writes a key cosign signs with, and imggate signs verdicts with a key cosign generated', async function () {
    if (!cosignBin) this.skip();
    const gen = await imggate(['keys', 'generate', '--output-key-prefix', path.join(root, 'keys', 'made-by-imggate')], { env: { IMGGATE_KEY_PASSWORD: 'pw2' } });
    assert.equal(gen.code, 0, gen.stderr);
    const img = await image('imggate-key');
    const digest = await pushImage(registry.host, 'team/imggate-key', '1.0', img, client);
    const s = await cosign(cosignBin, ['sign', '--key', path.join(root, 'keys', 'made-by-imggate.key'), '--tlog-upload=false', '--allow-insecure-registry', '-y', `${registry.host}/team/imggate-key@${digest}`], { COSIGN_PASSWORD: 'pw2' });
    assert.equal(s.code, 0, s.stderr);
    const r = await gate(await rulesWith(cosignTrust('keys/made-by-imggate.pub')), `${registry.host}/team/imggate-key:1.0`);
    assert.equal(r.code, 0, JSON.stringify(r.report.signatures));
    // The other way round: cosign's own key (its password in COSIGN_PASSWORD) signs imggate's verdict.
    const attested = await imggate(['check', '-q', '--key', path.join(root, 'keys', 'release.key'), `${registry.host}/team/imggate-key:1.0`], { env: { COSIGN_PASSWORD: 'pw' } });
    assert.equal(attested.code, 0, attested.stderr);
    const v = await imggate(['verify-attestation', '--key', path.join(root, 'keys', 'release.pub'), `${registry.host}/team/imggate-key:1.0`]);
    assert.equal(v.code, 0, v.stdout);
    const wrongPassword = await imggate(['check', '-q', '--key', path.join(root, 'keys', 'release.key'), `${registry.host}/team/imggate-key:1.0`], { env: { COSIGN_PASSWORD: 'nope' } });
    assert.equal(wrongPassword.code, 2);
    assert.match(wrongPassword.stderr, /password does not open it/);
  });

  it('verifies Ed25519, RSA and P-384 keys (signatures by the test\'s own producer)', async function () {
    for (const [name, hash] of [['ed', null], ['rsa', 'sha256'], ['p384', 'sha384']] as const) {
      const img = await image(`key-${name}`);
      const digest = await pushImage(registry.host, `keys/${name}`, '1.0', img, client);
      const payload = simpleSigning(`${registry.host}/keys/${name}`, digest);
      const signature = cryptoSign(hash, payload, await readFile(path.join(root, 'keys', `${name}.key`), 'utf8')).toString('base64');
      await pushSigTag(client, `keys/${name}`, digest, payload, signature);
      const r = await gate(await rulesWith(cosignTrust(`keys/${name}.pub`)), `${registry.host}/keys/${name}:1.0`);
      assert.equal(r.code, 0, `${name}: ${JSON.stringify(r.report.signatures)}`);
    }
  });

  it('fails an unsigned image under enforce, reports it under audit, and counts distinct signers for a threshold', async function () {
    const img = await image('unsigned');
    await pushImage(registry.host, 'team/unsigned', '1.0', img, client);
    const enforce = await gate(await rulesWith(cosignTrust('keys/ed.pub')), `${registry.host}/team/unsigned:1.0`);
    assert.equal(enforce.code, 1);
    assert.deepEqual(enforce.report.findings.filter((f) => f.check === 'signature').map((f) => [f.rule, f.blocking]), [['unsigned', true]]);
    const sarif = await imggate(['check', '--no-attest', '--format', 'sarif', '--rules', await rulesWith(cosignTrust('keys/ed.pub')), `${registry.host}/team/unsigned:1.0`]);
    const sarifRun = (JSON.parse(sarif.stdout) as { runs: Array<{ tool: { driver: { rules: Array<{ id: string; shortDescription: { text: string } }> } }; results: Array<{ ruleId: string; level: string }> }> }).runs[0];
    assert.deepEqual(sarifRun?.results.filter((x) => x.ruleId === 'unsigned').map((x) => x.level), ['error']);
    assert.equal(sarifRun?.tool.driver.rules.find((x) => x.id === 'unsigned')?.shortDescription.text, 'No signature found');
    const audit = await gate(await rulesWith(cosignTrust('keys/ed.pub', 'audit')), `${registry.host}/team/unsigned:1.0`);
    assert.equal(audit.code, 0, audit.stderr);
    assert.deepEqual(audit.report.findings.filter((f) => f.check === 'signature').map((f) => [f.rule, f.blocking]), [['unsigned', false]]);

    // A local layout matched by an enforcing scope: it carries no signatures imggate reads, so it fails closed.
    const layout = path.join(root, 'layout');
    await writeOciLayout(layout, 'app', img);
    const local = await gate(await rulesWith("version: 1\nsigners:\n  a: { cosign: { key: keys/ed.pub } }\nscopes:\n  - { match: 'oci:**', level: enforce, signers: [a] }\n"), `oci:${layout}:app`);
    assert.equal(local.code, 1);
    assert.deepEqual(local.report.findings.filter((f) => f.check === 'signature').map((f) => [f.rule, f.blocking]), [['signature-unavailable', true]]);

    const signedOnce = await image('threshold');
    const digest = await pushImage(registry.host, 'team/threshold', '1.0', signedOnce, client);
    const payload = simpleSigning(`${registry.host}/team/threshold`, digest);
    await pushSigTag(client, 'team/threshold', digest, payload, cryptoSign(null, payload, await readFile(path.join(root, 'keys', 'ed.key'), 'utf8')).toString('base64'));
    const two = `version: 1\nsigners:\n  a: { cosign: { key: keys/ed.pub } }\n  b: { cosign: { key: keys/rsa.pub } }\nscopes:\n  - match: '${registry.host}/team/threshold'\n    level: enforce\n    signers: [a, b]\n    threshold: 2\n`;
    const short = await gate(await rulesWith(two), `${registry.host}/team/threshold:1.0`);
    assert.equal(short.code, 1);
    const f = short.report.findings.find((x) => x.check === 'signature');
    assert.equal(f?.rule, 'signature-threshold');
    assert.match(f?.message ?? '', /verified by a only; .* requires 2 of a, b/);
    const anyOf = await gate(await rulesWith(two.replace('threshold: 2', 'threshold: 1')), `${registry.host}/team/threshold:1.0`);
    assert.equal(anyOf.code, 0);
  });

  describe('Notation (JWS, X.509, signatures made with openssl)', function () {
    const notationTrust = (identities = "['x509.subject: C=US, O=Acme, CN=Release Signer']"): string =>
      `version: 1\nsigners:\n  acme: { notation: { trustStores: [keys/notation/truststore/x509/ca/acme], trustedIdentities: ${identities} } }\nscopes:\n  - match: '${registry.host}/**'\n    level: enforce\n    signers: [acme]\n`;

    async function signNotation(repository: string, img: BuiltImage, digest: string, signer: Cert, chain: Cert[], header: Record<string, unknown> = {}): Promise<void> {
      const envelope = await notationJws(path.join(root, 'pki'), signer, chain, { mediaType: img.mediaType, digest, size: img.manifest.length }, header);
      await attachArtifact(client, repository, { mediaType: img.mediaType, digest, size: img.manifest.length }, {
        artifactType: 'application/vnd.cncf.notary.signature',
        blob: envelope,
        blobMediaType: 'application/jose+json',
        annotations: { 'io.cncf.notary.x509chain.thumbprint#S256': JSON.stringify([sha256(Buffer.from(signer.pem)).slice(7)]) },
      });
    }

    it('accepts a signature chaining to the trust store, by a trusted identity', async function () {
      const img = await image('notation-ok');
      const digest = await pushImage(registry.host, 'team/notation', 'ok', img, client);
      await signNotation('team/notation', img, digest, leaf, [ca]);
      const r = await gate(await rulesWith(notationTrust()), `${registry.host}/team/notation:ok`);
      assert.equal(r.code, 0, JSON.stringify(r.report.signatures));
      assert.deepEqual(r.report.signatures.map((x) => [x.format, x.verified, x.signer]), [['notation', true, 'acme']]);
      assert.match(r.report.signatures[0]?.identity ?? '', /CN=Release Signer/);
    });

    it('refuses an untrusted CA, a wrong identity, an expired certificate, an expired signature and an unknown critical header', async function () {
      const rules = await rulesWith(notationTrust());
      const rogue = await makeLeaf(path.join(root, 'pki'), 'rogue', otherCa, '/C=US/O=Acme/CN=Release Signer');
      const short = await makeLeaf(path.join(root, 'pki'), 'short', ca, '/C=US/O=Acme/CN=Release Signer', { days: 1 });
      for (const [name, sign, reason, now] of [
        ['untrusted-ca', (img: BuiltImage, d: string) => signNotation('team/notation', img, d, rogue, [otherCa]), /does not lead to a trusted CA/],
        ['expired-cert', (img: BuiltImage, d: string) => signNotation('team/notation', img, d, short, [ca]), /is not valid at/, new Date(Date.now() + 3 * 86_400_000)],
        ['expired-sig', (img: BuiltImage, d: string) => signNotation('team/notation', img, d, leaf, [ca], { crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'], 'io.cncf.notary.expiry': new Date(Date.now() - 60_000).toISOString() }), /signature expired/],
        ['unknown-crit', (img: BuiltImage, d: string) => signNotation('team/notation', img, d, leaf, [ca], { crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.verificationPlugin'], 'io.cncf.notary.verificationPlugin': 'x' }), /unsupported critical header/],
      ] as const) {
        const img = await image(`notation-${name}`);
        const digest = await pushImage(registry.host, 'team/notation', name, img, client);
        await sign(img, digest);
        const report = now
          ? await check(`${registry.host}/team/notation:${name}`, { rules, now })
          : (await gate(rules, `${registry.host}/team/notation:${name}`)).report;
        assert.equal(report.verdict, 'fail', name);
        assert.match(report.signatures[0]?.reason ?? '', reason, name);
      }
      const wrongIdentity = await gate(await rulesWith(notationTrust("['x509.subject: C=US, O=Acme, CN=Someone Else']")), `${registry.host}/team/notation:ok`);
      assert.equal(wrongIdentity.code, 1);
      assert.match(wrongIdentity.report.signatures[0]?.reason ?? '', /is not a trusted identity/);
    });

    it('reads a Notation trustpolicy.json unchanged', async function () {
      await writeFile(
        path.join(root, 'keys', 'notation', 'trustpolicy.json'),
        JSON.stringify({
          version: '1.0',
          trustPolicies: [
            // Listed first, the wildcard still yields to the repository's own policy, as in Notation.
            { name: 'everything-else', registryScopes: ['*'], signatureVerification: { level: 'skip' } },
            { name: 'acme-images', registryScopes: [`${registry.host}/team/notation`], signatureVerification: { level: 'strict' }, trustStores: ['ca:acme'], trustedIdentities: ['x509.subject: C=US, O=Acme, OU=Builds, CN=Release Signer'] },
            { name: 'acme-lenient', registryScopes: [`${registry.host}/team/lenient`], signatureVerification: { level: 'permissive' }, trustStores: ['ca:acme'], trustedIdentities: ['*'] },
            { name: 'acme-lenient-but-expiry', registryScopes: [`${registry.host}/team/lenient-strict-expiry`], signatureVerification: { level: 'permissive', override: { expiry: 'enforce' } }, trustStores: ['ca:acme'], trustedIdentities: ['*'] },
          ],
        }),
      );
      const rules = await rulesWith('version: 1\nnotation:\n  trustPolicy: keys/notation/trustpolicy.json\n  trustStoreDir: keys/notation/truststore\n');
      const ok = await gate(rules, `${registry.host}/team/notation:ok`);
      assert.equal(ok.code, 0, JSON.stringify(ok.report.signatures));
      assert.deepEqual(ok.report.trust, { level: 'enforce', scope: 'Notation policy acme-images' });
      const unsigned = await image('notation-unsigned');
      await pushImage(registry.host, 'team/notation', 'unsigned', unsigned, client);
      assert.equal((await gate(rules, `${registry.host}/team/notation:unsigned`)).code, 1);
      // permissive: an expired signature is logged, not fatal; an override puts expiry back to enforce.
      const expiredHeader = { crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'], 'io.cncf.notary.expiry': new Date(Date.now() - 60_000).toISOString() };
      for (const repo of ['team/lenient', 'team/lenient-strict-expiry']) {
        const img = await image(`notation-${repo}`);
        const digest = await pushImage(registry.host, repo, '1.0', img, client);
        await signNotation(repo, img, digest, leaf, [ca], expiredHeader);
      }
      const lenient = await gate(rules, `${registry.host}/team/lenient:1.0`);
      assert.equal(lenient.code, 0, JSON.stringify(lenient.report.signatures));
      assert.match(lenient.report.signatures[0]?.reason ?? '', /logged, not enforced: the signature expired/);
      const strictExpiry = await gate(rules, `${registry.host}/team/lenient-strict-expiry:1.0`);
      assert.equal(strictExpiry.code, 1);
      assert.match(strictExpiry.report.signatures[0]?.reason ?? '', /the signature expired/);
      const skipped = await gate(rules, `${registry.host}/team/unsigned:1.0`);
      assert.equal(skipped.code, 0);
      assert.equal(skipped.report.trust, undefined);
    });
  });

  describe('keyless (Fulcio-style certificates, RFC 3161 timestamps, trusted_root.json offline; PKI made with openssl)', function () {
    const identity = 'https://git.example.com/org/app/.github/workflows/release.yml@refs/heads/main';
    const issuer = 'https://token.actions.example.com';
    let pki: SigstorePki;
    let rogue: SigstorePki;

    before(async function () {
      await mkdir(path.join(root, 'pki', 'sigstore'), { recursive: true });
      await mkdir(path.join(root, 'pki', 'rogue'), { recursive: true });
      pki = await makeSigstorePki(path.join(root, 'pki', 'sigstore'), 'test');
      rogue = await makeSigstorePki(path.join(root, 'pki', 'rogue'), 'rogue');
      await writeFile(path.join(root, 'keys', 'trusted_root.json'), pki.trustedRoot());
    });

    /** A DSSE bundle over an in-toto statement about `digest`, signed by `leaf`, timestamped by `tsaOf`'s TSA. */
    async function keylessBundle(leaf: Cert, digest: string, tsaOf: SigstorePki = pki): Promise<Buffer> {
        const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'app', digest: { sha256: digest.slice(7) } }], predicateType: 'https://example.com/signed/v1', predicate: {} }));
      const signature = cryptoSign('sha256', dsse.preAuthEncoding('application/vnd.in-toto+json', statement), { key: await readFile(leaf.key, 'utf8'), dsaEncoding: 'der' });
      const bundle = toDSSEBundle({ artifact: statement, artifactType: 'application/vnd.in-toto+json', signature, certificate: Buffer.from(leaf.pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64') });
      bundle.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp: await timestamp(tsaOf, signature) }] };
      return Buffer.from(JSON.stringify(bundleToJSON(bundle)));
    }

    async function pushSigned(name: string, leaf: Cert, tsaOf?: SigstorePki): Promise<string> {
      const img = await image(`keyless-${name}`);
      const digest = await pushImage(registry.host, 'team/keyless', name, img, client);
      await attachArtifact(client, 'team/keyless', { mediaType: img.mediaType, digest, size: img.manifest.length }, {
        artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        blob: await keylessBundle(leaf, digest, tsaOf),
        blobMediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope' },
      });
      return `${registry.host}/team/keyless:${name}`;
    }

    const keylessTrust = (id: string, iss = `{ exact: '${issuer}' }`): string =>
      `version: 1\nsigners:\n  ci: { keyless: { trustedRoot: keys/trusted_root.json, identity: ${id}, issuer: ${iss} } }\nscopes:\n  - match: '${registry.host}/team/keyless'\n    level: enforce\n    signers: [ci]\n`;

    it('accepts a certificate from the trusted CA with the required identity and issuer (exact or regexp)', async function () {
      const leafCert = await makeFulcioLeaf(pki, 'ok', identity, issuer);
      const ref = await pushSigned('ok', leafCert);
      const exact = await gate(await rulesWith(keylessTrust(`{ exact: '${identity}' }`)), ref);
      assert.equal(exact.code, 0, JSON.stringify(exact.report.signatures));
      assert.equal(exact.report.signatures[0]?.identity, `${identity} (${issuer})`);
      const regexp = await gate(await rulesWith(keylessTrust(`{ regexp: 'https://git\\.example\\.com/org/.+@refs/heads/main' }`)), ref);
      assert.equal(regexp.code, 0, JSON.stringify(regexp.report.signatures));
    });

    it('refuses a wrong identity, a wrong issuer, an untrusted CA, an untrusted TSA and a certificate expired when timestamped', async function () {
      const okRef = `${registry.host}/team/keyless:ok`;
      const wrongId = await gate(await rulesWith(keylessTrust(`{ exact: 'https://git.example.com/org/other/.github/workflows/release.yml@refs/heads/main' }`)), okRef);
      assert.equal(wrongId.code, 1);
      assert.match(wrongId.report.signatures[0]?.reason ?? '', /certificate identity .* is not the one required/);
      const wrongIssuer = await gate(await rulesWith(keylessTrust(`{ exact: '${identity}' }`, "{ exact: 'https://accounts.example.org' }")), okRef);
      assert.equal(wrongIssuer.code, 1);
      assert.match(wrongIssuer.report.signatures[0]?.reason ?? '', /certificate issuer .* is not the one required/);

      const rules = await rulesWith(keylessTrust(`{ exact: '${identity}' }`));
      const rogueLeaf = await makeFulcioLeaf(rogue, 'rogue', identity, issuer);
      const untrustedCa = await gate(rules, await pushSigned('rogue-ca', rogueLeaf));
      assert.equal(untrustedCa.code, 1);
      assert.match(untrustedCa.report.signatures[0]?.reason ?? '', /does not verify: Failed to verify certificate chain/);
      const leafCert = await makeFulcioLeaf(pki, 'rogue-tsa', identity, issuer);
      const untrustedTsa = await gate(rules, await pushSigned('rogue-tsa', leafCert, rogue));
      assert.equal(untrustedTsa.code, 1);
      assert.match(untrustedTsa.report.signatures[0]?.reason ?? '', /timestamp/);
      const expired = await makeFulcioLeaf(pki, 'expired', identity, issuer, { start: '20200101000000Z', end: '20200101001000Z' });
      const expiredResult = await gate(rules, await pushSigned('expired', expired));
      assert.equal(expiredResult.code, 1);
      // Valid for ten minutes in 2020; the trusted timestamp says now: the chain is not valid at signing time.
      assert.match(expiredResult.report.signatures[0]?.reason ?? '', /does not verify: Failed to verify certificate chain/);
    });

    it('refuses a keyless bundle with no timestamp: a certificate alone proves nothing about when it signed', async function () {
      const leafCert = await makeFulcioLeaf(pki, 'no-ts', identity, issuer);
      const img = await image('keyless-no-ts');
      const digest = await pushImage(registry.host, 'team/keyless', 'no-ts', img, client);
      const withTs = JSON.parse((await keylessBundle(leafCert, digest)).toString()) as { verificationMaterial: { timestampVerificationData?: unknown } };
      delete withTs.verificationMaterial.timestampVerificationData;
      await attachArtifact(client, 'team/keyless', { mediaType: img.mediaType, digest, size: img.manifest.length }, { artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json', blob: Buffer.from(JSON.stringify(withTs)), blobMediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', annotations: {} });
      const r = await gate(await rulesWith(keylessTrust(`{ exact: '${identity}' }`)), `${registry.host}/team/keyless:no-ts`);
      assert.equal(r.code, 1);
      assert.match(r.report.signatures[0]?.reason ?? '', /expected 1 timestamps, got 0/);
    });
  });

  it('verifies a multi-platform image through its signed index, reporting each platform separately', async function () {
    const amd = await image('multi-amd', { os: 'linux', architecture: 'amd64' });
    const arm = await image('multi-arm', { os: 'linux', architecture: 'arm64' });
    const indexDigest = await pushIndex(registry.host, 'team/multi', '1.0', [amd, arm], client);
    const payload = simpleSigning(`${registry.host}/team/multi`, indexDigest);
    await pushSigTag(client, 'team/multi', indexDigest, payload, cryptoSign(null, payload, await readFile(path.join(root, 'keys', 'ed.key'), 'utf8')).toString('base64'));
    const rules = await rulesWith(cosignTrust('keys/ed.pub'));
    const r = await imggate(['check', '--no-attest', '--all-platforms', '--format', 'json', '--rules', rules, `${registry.host}/team/multi:1.0`]);
    assert.equal(r.code, 0, r.stdout);
    const report = JSON.parse(r.stdout) as Report;
    assert.deepEqual(report.signatures.map((s) => [s.verified, s.subject]), [[true, indexDigest]], 'the index, verified on its own');
    assert.equal(report.platforms?.length, 2);
    for (const p of report.platforms ?? []) {
      assert.deepEqual(p.signatures.map((s) => [s.verified, s.subject]), [[true, indexDigest]]);
      assert.match(p.signatures[0]?.reason ?? '', /on the index/);
    }

    // The verdict attested for one platform lists the signature that verified as an input attestation.
    const gen = await imggate(['keys', 'generate', '--output-key-prefix', path.join(root, 'gate')]);
    assert.equal(gen.code, 0, gen.stderr);
    const out = path.join(root, 'multi-amd64.sigstore.json');
    const one = await imggate(['check', '-q', '--no-push', '--platform', 'linux/amd64', '--key', path.join(root, 'gate.key'), '--attestation-out', out, '--rules', rules, `${registry.host}/team/multi:1.0`]);
    assert.equal(one.code, 0, one.stderr);
    const bundle = JSON.parse(await readFile(out, 'utf8')) as { dsseEnvelope: { payload: string } };
    const vsa = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()) as { subject: Array<{ digest: { sha256: string } }>; predicate: { inputAttestations: Array<{ uri: string; digest: { sha256: string } }> } };
    assert.equal(vsa.subject[0]?.digest.sha256, amd.manifestDigest.slice(7));
    const sigManifest = await client.getManifest('team/multi', `sha256-${indexDigest.slice(7)}.sig`);
    assert.deepEqual(vsa.predicate.inputAttestations.map((a) => a.digest.sha256), [sigManifest.digest.slice(7)]);
  });
});
