import assert from 'node:assert/strict';
import { createHash, sign as cryptoSign, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { verifyNotationJws } from '../../src/verify/notation.js';
import { makeFulcioLeaf, makeSigstorePki, type Cert, type SigstorePki } from '../harness/pki.js';

/** JWS envelopes over EC keys (ES256), signed here with node:crypto; certificates made by openssl. */
describe('Notation JWS details', function () {
  let dir: string;
  let pki: SigstorePki;
  let leaf: Cert;
  const manifest = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
  const subject = { digest: `sha256:${createHash('sha256').update(manifest).digest('hex')}`, bytes: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'r/app' };

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-notation-'));
    pki = await makeSigstorePki(dir, 'notation');
    leaf = await makeFulcioLeaf(pki, 'signer', 'https://example.com/signer', 'https://issuer.example');
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  async function envelope(header: Record<string, unknown>, alg = 'ES256', target: object = { mediaType: subject.mediaType, digest: subject.digest, size: manifest.length }): Promise<Buffer> {
    const p = Buffer.from(JSON.stringify({ alg, cty: 'application/vnd.cncf.notary.payload.v1+json', crit: ['io.cncf.notary.signingScheme'], 'io.cncf.notary.signingScheme': 'notary.x509', 'io.cncf.notary.signingTime': new Date().toISOString(), ...header })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ targetArtifact: target })).toString('base64url');
    const sig = cryptoSign('sha256', Buffer.from(`${p}.${payload}`), { key: await readFile(leaf.key, 'utf8'), dsaEncoding: 'ieee-p1363' }).toString('base64url');
    const der = (c: Cert) => c.pem.replace(/-----[A-Z ]+-----|\s/g, '');
    return Buffer.from(JSON.stringify({ payload, protected: p, header: { x5c: [der(leaf)] }, signature: sig }));
  }
  const trust = (identities: string[] = ['*']) => ({ roots: [new X509Certificate(pki.ca.pem)], identities });

  it('verifies ES256 (IEEE P1363 signatures) and binds the target artifact', async function () {
    const ok = verifyNotationJws(await envelope({}), trust(), subject, new Date());
    assert.deepEqual([ok.ok, ok.reason], [true, 'signature verified']);
    const other = verifyNotationJws(await envelope({}, 'ES256', { mediaType: subject.mediaType, digest: `sha256:${'0'.repeat(64)}`, size: 1 }), trust(), subject, new Date());
    assert.match(other.reason, /the signature is for sha256:0{64}/);
  });

  it('refuses an alg that does not fit the key, a critical header that is absent, and expiry not marked critical', async function () {
    assert.match(verifyNotationJws(await envelope({}, 'ES384'), trust(), subject, new Date()).reason, /does not match the certificate's key/);
    assert.match(verifyNotationJws(await envelope({ crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'] }), trust(), subject, new Date()).reason, /listed but absent/);
    assert.match(verifyNotationJws(await envelope({ 'io.cncf.notary.expiry': '2999-01-01T00:00:00Z' }), trust(), subject, new Date()).reason, /expiry must be critical/);
  });

  it('matches trusted identities as a subset of the subject, and refuses garbage', async function () {
    const env = await envelope({});
    assert.equal(verifyNotationJws(env, trust(['x509.subject: O=sigstore.dev']), subject, new Date()).ok, true);
    assert.match(verifyNotationJws(env, trust(['x509.subject: O=sigstore.dev, CN=someone']), subject, new Date()).reason, /not a trusted identity/);
    assert.match(verifyNotationJws(Buffer.from('{"payload":1}'), trust(), subject, new Date()).reason, /not a Notation JWS envelope/);
  });
});
