import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import * as z from '../zod.js';
import { parseReference, formatReference, repositoryNameOf } from '../registry/reference.js';
import type { SignedSubject, Verification } from './types.js';

/** cosign's simple-signing payload (the "critical" part is what is trusted). */
const simpleSigningSchema = z.object({
  critical: z.object({
    identity: z.object({ 'docker-reference': z.string() }),
    image: z.object({ 'docker-manifest-digest': z.string() }),
    type: z.literal('cosign container image signature'),
  }),
  optional: z.nullish(z.record(z.string(), z.unknown())),
});

/**
 * The hash cosign pairs with a key when it loads it (sigstore's default verifier): SHA-256 for P-256
 * and RSA (PKCS#1 v1.5), SHA-384 for P-384, SHA-512 for P-521, none for Ed25519.
 */
function hashFor(key: KeyObject): string | null {
  if (key.asymmetricKeyType === 'ed25519') return null;
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
  }
  return 'sha256';
}

/** Verifies a signature over raw bytes with a public key the way cosign signs with that key type. */
export function verifyWithKey(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    return cryptoVerify(hashFor(key), data, key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'der' } : key, signature);
  } catch {
    return false;
  }
}

/**
 * Verifies a cosign simple-signing signature (the `.sig` tag layout, or cosign's OCI 1.1 referrer):
 * the signature over the exact payload bytes, then that the payload names this digest, and (unless
 * the signer allows any) this repository, so a signature copied from another repository fails.
 */
export function verifySimpleSigning(
  payload: Buffer,
  signatureB64: string,
  key: KeyObject,
  subject: SignedSubject,
  dockerReference: 'repository' | 'any',
): Verification {
  const signature = Buffer.from(signatureB64, 'base64');
  if (signature.length === 0) return { ok: false, reason: 'the signature annotation is empty' };
  if (!verifyWithKey(key, payload, signature)) return { ok: false, reason: 'the signature does not verify with the key (wrong key, or a tampered payload)' };
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'the signed payload is not JSON' };
  }
  const parsed = simpleSigningSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: 'the signed payload is not a cosign simple-signing payload' };
  const critical = parsed.data.critical;
  if (critical.image['docker-manifest-digest'] !== subject.digest) {
    return { ok: false, reason: `the signed payload is for ${critical.image['docker-manifest-digest']}, not ${subject.digest}` };
  }
  if (dockerReference === 'repository' && normalise(critical.identity['docker-reference']) !== normalise(subject.repository)) {
    return { ok: false, reason: `the signed payload names repository ${critical.identity['docker-reference']}, not ${subject.repository} (copied from another repository?)` };
  }
  return { ok: true, reason: 'signature verified' };
}

/** `index.docker.io/library/alpine` and `alpine` name the same repository. */
function normalise(reference: string): string {
  try {
    return repositoryNameOf(formatReference({ ...parseReference(reference), tag: undefined, digest: undefined }));
  } catch {
    return reference;
  }
}
