import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { generateSigningKey, parsePublicKey, parseSigningKey } from '../../src/attest/keys.js';
import { KeySigner, signStatement } from '../../src/attest/sign.js';
import { trustMaterialOf } from '../../src/policy/trusted-root.js';
import type { Signer } from '../../src/policy/load-trust.js';
import { verifyBundleSignature } from '../../src/verify/bundle.js';

describe('Sigstore bundles as image signatures', function () {
  const pair = generateSigningKey(undefined);
  const signer = new KeySigner(parseSigningKey(pair.privatePem, undefined, 'k'));
  const manifest = Buffer.from('{"schemaVersion":2}');
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  const subject = { digest, bytes: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'r.example/app' };
  const key: Signer & { kind: 'cosign' } = { name: 'release', kind: 'cosign', publicKey: parsePublicKey(pair.publicPem, 'k'), keyFile: 'keys/k.pub', dockerReference: 'repository' };
  const statement = (d: string) => ({ _type: 'https://in-toto.io/Statement/v1' as const, subject: [{ name: 'app', digest: { sha256: d.slice(7) } }], predicateType: 'https://example.com/p', predicate: {} });

  it('binds a DSSE bundle to the image through the statement subject', async function () {
    assert.equal(verifyBundleSignature(await signStatement(statement(digest), signer), key, subject).ok, true);
    const other = verifyBundleSignature(await signStatement(statement(`sha256:${'0'.repeat(64)}`), signer), key, subject);
    assert.deepEqual([other.ok, /not about/.test(other.reason)], [false, true]);
  });

  it('sets aside log entries a key signer has no root for, and checks them when it has one', async function () {
    const bundle = JSON.parse((await signStatement(statement(digest), signer)).toString()) as { verificationMaterial: Record<string, unknown> };
    // A log entry nobody here can check (as cosign adds when it uploads to Rekor).
    bundle.verificationMaterial['tlogEntries'] = [{
      logIndex: '1', logId: { keyId: Buffer.alloc(32).toString('base64') }, kindVersion: { kind: 'dsse', version: '0.0.1' }, integratedTime: '1700000000',
      inclusionPromise: { signedEntryTimestamp: Buffer.from('x').toString('base64') }, canonicalizedBody: Buffer.from('{}').toString('base64'),
      inclusionProof: { logIndex: '1', rootHash: Buffer.alloc(32).toString('base64'), treeSize: '2', hashes: [Buffer.alloc(32).toString('base64')], checkpoint: { envelope: 'log.test\n2\nAAAA\n' } },
    }];
    const bytes = Buffer.from(JSON.stringify(bundle));
    assert.equal(verifyBundleSignature(bytes, key, subject).ok, true, 'the key alone decides without a root');
    const logs = trustMaterialOf({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], ctlogs: [], certificateAuthorities: [], timestampAuthorities: [] });
    const checked = verifyBundleSignature(bytes, { ...key, logs }, subject);
    assert.equal(checked.ok, false, 'an entry from an unknown log fails once logs are checked');
    assert.match(checked.reason, /inclusion promise could not be verified/);
  });

  it('refuses a trusted root whose authorities do not say from when they are valid', function () {
    const root = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [{ baseUrl: 'https://log.test', hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: 'AAAA', keyDetails: 'PKIX_ECDSA_P256_SHA_256' }, logId: { keyId: 'AAAA' } }] };
    assert.throws(() => trustMaterialOf(root), /tlogs\[0\] has no validFor.start/);
  });
});
