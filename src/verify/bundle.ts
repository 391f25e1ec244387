import type { KeyObject } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { toSignedEntity, Verifier, type TrustMaterial } from '@sigstore/verify';
import type { Matcher, Signer } from '../policy/load-trust.js';
import type { SignedSubject, Verification } from './types.js';

/**
 * Verifies a Sigstore bundle (v0.1–v0.3) found as a referrer of the image, against one signer:
 * a public key (no log or timestamp needed), or keyless — a Fulcio-style certificate chaining to the
 * user's trusted_root.json, with transparency-log and timestamp evidence verified offline, and the
 * certificate's identity and issuer matched. Then the bundle must be bound to this image: a DSSE
 * in-toto statement whose subject is the digest, or a message signature over the manifest bytes.
 */
export function verifyBundleSignature(bytes: Buffer, signer: Signer & { kind: 'cosign' | 'keyless' }, subject: SignedSubject): Verification {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(JSON.parse(bytes.toString('utf8')));
  } catch (err) {
    return { ok: false, reason: `not a Sigstore bundle: ${(err as Error).message}` };
  }
  const keyMaterial = bundle.verificationMaterial.content.$case;
  if (signer.kind === 'cosign' && keyMaterial !== 'publicKey') return { ok: false, reason: 'the bundle carries a certificate; this signer is a public key' };
  if (signer.kind === 'keyless' && keyMaterial === 'publicKey') return { ok: false, reason: 'the bundle names a public key; this signer is keyless (certificate identity)' };
  const trust: TrustMaterial = signer.kind === 'cosign' ? keyTrustMaterial(signer.publicKey, signer.logs) : signer.trust;
  // A certificate is only meaningful with evidence of when it was used: at least one timestamp (a log
  // entry or a TSA token) is required for keyless; logs and SCTs are required when the root has them.
  // A key is its own trust anchor: log entries are checked when the signer names a root for them.
  const options =
    signer.kind === 'cosign'
      ? { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }
      : { tlogThreshold: trust.tlogs.length ? 1 : 0, ctlogThreshold: trust.ctlogs.length ? 1 : 0, timestampThreshold: 1 };
  // Entries nobody can check would fail verification; without a root they are set aside, as cosign's
  // --insecure-ignore-tlog does, and the key alone decides.
  if (signer.kind === 'cosign' && !signer.logs) bundle = withoutLogEvidence(bundle);
  let identity: { san?: string; issuer?: string } = {};
  try {
    // A message signature is over the artifact: here, the manifest bytes whose digest the image is.
    const entity = toSignedEntity(bundle, bundle.content.$case === 'messageSignature' ? subject.bytes : undefined);
    const result = new Verifier(trust, options).verify(entity);
    identity = { san: result.identity?.subjectAlternativeName, issuer: result.identity?.extensions?.issuer };
  } catch (err) {
    return { ok: false, reason: `the bundle does not verify: ${(err as Error).message}` };
  }
  const binding = boundTo(bundle, subject);
  if (!binding.ok) return binding;
  if (signer.kind === 'keyless') {
    if (!matches(signer.identity, identity.san)) return { ok: false, reason: `certificate identity ${identity.san ?? '(none)'} is not the one required` };
    if (!matches(signer.issuer, identity.issuer)) return { ok: false, reason: `certificate issuer ${identity.issuer ?? '(none)'} is not the one required` };
    return { ok: true, reason: 'bundle verified', identity: `${identity.san} (${identity.issuer})` };
  }
  return { ok: true, reason: 'bundle verified', identity: signer.keyFile };
}

function boundTo(bundle: Bundle, subject: SignedSubject): Verification {
  const hex = subject.digest.slice(subject.digest.indexOf(':') + 1);
  if (bundle.content.$case === 'dsseEnvelope') {
    const envelope = bundle.content.dsseEnvelope;
    if (envelope.payloadType !== 'application/vnd.in-toto+json') return { ok: false, reason: `DSSE payload type ${envelope.payloadType} is not an in-toto statement` };
    let statement: { subject?: Array<{ digest?: Record<string, string> }> };
    try {
      statement = JSON.parse(envelope.payload.toString('utf8')) as typeof statement;
    } catch {
      return { ok: false, reason: 'the DSSE payload is not JSON' };
    }
    if (!Array.isArray(statement.subject) || !statement.subject.some((s) => s?.digest?.['sha256'] === hex)) {
      return { ok: false, reason: `the signed statement is not about ${subject.digest}` };
    }
    return { ok: true, reason: 'bound' };
  }
  const md = bundle.content.messageSignature.messageDigest;
  if (!md || md.digest.toString('hex') !== hex) return { ok: false, reason: `the message signature is not over ${subject.digest}` };
  return { ok: true, reason: 'bound' };
}

function matches(m: Matcher, value: string | undefined): boolean {
  if (value === undefined) return false;
  return 'exact' in m ? m.exact === value : m.regexp.test(value);
}

/** The bundle with its transparency-log entries and timestamps set aside: for a key that is trusted alone. */
export function withoutLogEvidence<B extends Bundle>(bundle: B): B {
  return { ...bundle, verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } } };
}

/**
 * Trust material for a key trusted on its own: whatever hint a bundle names, this key verifies it;
 * `logs` (a trusted root's transparency logs and TSAs) check the log entries and timestamps, if given.
 */
export function keyTrustMaterial(publicKey: KeyObject, logs?: TrustMaterial): TrustMaterial {
  return {
    certificateAuthorities: [],
    timestampAuthorities: logs?.timestampAuthorities ?? [],
    tlogs: logs?.tlogs ?? [],
    ctlogs: [],
    publicKey: () => ({ publicKey, validFor: () => true }),
  };
}
