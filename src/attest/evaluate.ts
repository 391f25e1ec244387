import type { KeyObject } from 'node:crypto';
import { isImggateError } from '../errors.js';
import { digestSetOf, type VsaPredicate } from './statement.js';
import { verifyStatementBundle, vsaOf } from './verify.js';

/** A candidate attestation: a bundle's bytes and where it came from (a referrer manifest or a file). */
export interface Candidate {
  readonly source: string;
  readonly bytes: Buffer;
  /** Set when the candidate was already found wanting where it was fetched (its manifest names another subject). */
  readonly rejected?: string;
}

export interface Requirements {
  /** The image manifest digest the verdict must be about. */
  readonly digest: string;
  readonly publicKey: KeyObject;
  /** Only verdicts made at most this long before `now`. */
  readonly maxAgeMs?: number | undefined;
  /** Only verdicts made under this policy (rules digest, `sha256:…`). */
  readonly policyDigest?: string | undefined;
  readonly now: Date;
}

export interface Considered {
  readonly source: string;
  readonly accepted: boolean;
  readonly reason: string;
  readonly result?: VsaPredicate['verificationResult'];
  readonly timeVerified?: string;
  readonly policyDigest?: string;
}

export interface Decision {
  /** True only when the newest acceptable verdict for the digest is PASSED. */
  readonly passed: boolean;
  readonly reason: string;
  readonly verdict?: Considered;
  readonly considered: readonly Considered[];
}

/** Clock skew tolerated between the gate that signed and the machine that verifies. */
const SKEW_MS = 5 * 60_000;

/**
 * Decides what a deploy step asks: is there a valid, signed PASSED verdict for exactly this digest
 * (under this policy, recent enough)? Every candidate is verified; of the acceptable ones the newest
 * decides, so a later FAILED verdict (a new advisory, a new policy) is not outvoted by an older PASSED.
 */
export function evaluateAttestations(candidates: readonly Candidate[], req: Requirements): Decision {
  const considered: Considered[] = candidates.map((c) => consider(c, req));
  const accepted = considered.filter((c) => c.accepted).sort((a, b) => Date.parse(b.timeVerified ?? '') - Date.parse(a.timeVerified ?? ''));
  const newest = accepted[0];
  if (!newest) {
    const reason = candidates.length === 0 ? `no attestation found for ${req.digest}` : `none of ${candidates.length} attestation(s) is acceptable`;
    return { passed: false, reason, considered };
  }
  const passed = newest.result === 'PASSED';
  return {
    passed,
    reason: passed ? `PASSED at ${newest.timeVerified}` : `the newest verdict is FAILED (${newest.timeVerified})`,
    verdict: newest,
    considered,
  };
}

function consider(candidate: Candidate, req: Requirements): Considered {
  const reject = (reason: string, extra: Partial<Considered> = {}): Considered => ({ source: candidate.source, accepted: false, reason, ...extra });
  if (candidate.rejected) return reject(candidate.rejected);
  let vsa: VsaPredicate;
  let subjects: ReadonlyArray<{ digest: Record<string, string> }>;
  try {
    const statement = verifyStatementBundle(candidate.bytes, req.publicKey);
    subjects = statement.subject;
    vsa = vsaOf(statement);
  } catch (err) {
    return reject(isImggateError(err) ? `${err.code}: ${err.message}` : String(err));
  }
  const seen = { result: vsa.verificationResult, timeVerified: vsa.timeVerified, ...(vsa.policy.digest?.['sha256'] ? { policyDigest: `sha256:${vsa.policy.digest['sha256']}` } : {}) };
  const want = digestSetOf(req.digest);
  const [algorithm, hex] = Object.entries(want)[0] as [string, string];
  if (!subjects.some((s) => s.digest[algorithm] === hex)) return reject(`about another image (subject is not ${req.digest})`, seen);
  if (!vsa.resourceUri.endsWith(`@${req.digest}`)) return reject(`resourceUri ${vsa.resourceUri} names another digest`, seen);
  const at = Date.parse(vsa.timeVerified);
  if (at > req.now.getTime() + SKEW_MS) return reject(`timeVerified ${vsa.timeVerified} is in the future`, seen);
  if (req.maxAgeMs !== undefined && req.now.getTime() - at > req.maxAgeMs) {
    return reject(`older than the allowed age (verified ${vsa.timeVerified})`, seen);
  }
  if (req.policyDigest !== undefined && seen.policyDigest !== req.policyDigest) {
    return reject(`made under policy ${seen.policyDigest ?? '(none named)'}, not ${req.policyDigest}`, seen);
  }
  return { source: candidate.source, accepted: true, reason: 'valid', ...seen };
}
