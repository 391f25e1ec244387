import type { Signer, TrustPolicy, TrustScope } from '../policy/load-trust.js';
import { trustScopeFor } from '../policy/load-trust.js';
import type { Finding, SignatureResult } from '../report/types.js';
import { verifyBundleSignature } from './bundle.js';
import { verifySimpleSigning } from './cosign.js';
import { JWS_MEDIA_TYPE, verifyNotationJws } from './notation.js';
import type { Evidence, SignedSubject, Verification } from './types.js';

/** One digest to verify and the signatures found for it. */
export interface Subject {
  readonly subject: SignedSubject;
  /** `index` for the index a platform manifest was reached through: its signature covers the manifest too. */
  readonly role: 'manifest' | 'index';
  readonly evidence: readonly Evidence[];
  /** Set when the signatures could not be listed or fetched: fails closed under an enforcing scope. */
  readonly discoveryError?: string;
}

export interface TrustResult {
  readonly scope: TrustScope;
  readonly signatures: SignatureResult[];
  readonly findings: Finding[];
}

/** Which evidence a signer can judge. */
function applies(signer: Signer, evidence: Evidence): boolean {
  if (signer.kind === 'notation') return evidence.kind === 'notation';
  if (signer.kind === 'keyless') return evidence.kind === 'sigstore-bundle';
  return evidence.kind === 'cosign' || evidence.kind === 'sigstore-bundle';
}

function verifyOne(signer: Signer, evidence: Evidence, subject: SignedSubject, now: Date): Verification {
  if (evidence.kind === 'cosign' && signer.kind === 'cosign') return verifySimpleSigning(evidence.payload, evidence.signature, signer.publicKey, subject, signer.dockerReference);
  if (evidence.kind === 'sigstore-bundle' && signer.kind !== 'notation') return verifyBundleSignature(evidence.bundle, signer, subject);
  if (evidence.kind === 'notation' && signer.kind === 'notation') {
    if (evidence.mediaType !== JWS_MEDIA_TYPE) return { ok: false, reason: `${evidence.mediaType} envelopes are not read (JWS only)` };
    return verifyNotationJws(evidence.envelope, signer, subject, now);
  }
  return { ok: false, reason: 'not this signer\'s format' };
}

/**
 * Decides trust for one image under the scope that matches it: every signature found is tried against
 * every signer the scope names; the image is trusted when `threshold` distinct signers verified a
 * signature over its manifest digest (or over the index it was selected from, which pins that digest).
 * Under `enforce` a shortfall is a blocking finding; under `audit` it is reported and does not block;
 * `skip` verifies nothing. Does no I/O.
 */
export function evaluateTrust(policy: TrustPolicy, scopeName: string, subjects: readonly Subject[], now: Date): TrustResult {
  const scope = trustScopeFor(policy, scopeName);
  if (scope.level === 'skip') return { scope, signatures: [], findings: [] };
  const signers = scope.signers.map((n) => policy.signers.get(n)).filter((s): s is Signer => s !== undefined);
  const satisfied = new Set<string>();
  const signatures: SignatureResult[] = [];
  for (const { subject, role, evidence } of subjects) {
    for (const e of evidence) {
      const tried: string[] = [];
      let verified: { signer: Signer; v: Verification } | undefined;
      for (const signer of signers.filter((s) => applies(s, e))) {
        const v = verifyOne(signer, e, subject, now);
        if (v.ok) {
          verified = { signer, v };
          break;
        }
        tried.push(`${signer.name}: ${v.reason}`);
      }
      if (verified) satisfied.add(verified.signer.name);
      signatures.push({
        format: e.kind,
        verified: verified !== undefined,
        ...(verified ? { signer: verified.signer.name, identity: verified.v.identity } : {}),
        reason: verified ? `${verified.v.reason}${role === 'index' ? ' (on the index this manifest was selected from)' : ''}` : tried.length ? tried.join('; ') : 'no signer in this scope takes this format',
        digest: e.digest,
        uri: e.source,
        subject: subject.digest,
      });
    }
  }
  const findings: Finding[] = [];
  const blocking = scope.level === 'enforce';
  const failedDiscovery = subjects.filter((s) => s.discoveryError);
  if (satisfied.size < scope.threshold) {
    const found = signatures.length;
    const rule = found === 0 ? (failedDiscovery.length ? 'signature-unavailable' : 'unsigned') : satisfied.size === 0 ? 'untrusted-signature' : 'signature-threshold';
    const need = scope.threshold === 1 ? `one of ${scope.signers.join(', ')}` : `${scope.threshold} of ${scope.signers.join(', ')}`;
    const why =
      rule === 'unsigned'
        ? 'no signature found'
        : rule === 'signature-unavailable'
          ? `signatures could not be read: ${failedDiscovery.map((s) => s.discoveryError).join('; ')}`
          : rule === 'untrusted-signature'
            ? `${found} signature(s) found, none verified`
            : `verified by ${[...satisfied].join(', ')} only`;
    findings.push({
      check: 'signature',
      rule,
      severity: 'critical',
      blocking,
      message: `${why}; ${scope.origin} (${scope.level}) requires ${need}${blocking ? '' : ' — audit only, not blocking'}`,
    });
  }
  return { scope, signatures, findings };
}
