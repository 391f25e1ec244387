import * as z from '../zod.js';
import { repositoryNameOf } from '../registry/reference.js';
import type { Report } from '../report/types.js';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
/** The full report as a predicate; versioned with the report schema (`imggate.report/v1`). */
export const REPORT_PREDICATE_TYPE = 'https://imggate.dev/report/v1';
export const DEFAULT_VERIFIER_ID = 'https://imggate.dev/verifier';

const digestSet = z.record(z.string(), z.string().check(z.regex(/^[0-9a-f]+$/)));
const resourceDescriptor = z.looseObject({ uri: z.optional(z.string()), name: z.optional(z.string()), digest: z.optional(digestSet) });

/** An in-toto Statement v1, as far as imggate reads one: subjects by digest, a predicate type, a predicate. */
export const statementSchema = z.object({
  _type: z.literal(STATEMENT_TYPE),
  subject: z.array(z.looseObject({ name: z.string(), digest: digestSet })).check(z.minLength(1)),
  predicateType: z.string().check(z.minLength(1)),
  predicate: z.unknown(),
});
export type Statement = z.infer<typeof statementSchema>;

/** SLSA Verification Summary v1 (https://slsa.dev/spec/v1.0/verification_summary), the fields imggate relies on. */
export const vsaPredicateSchema = z.looseObject({
  verifier: z.looseObject({ id: z.string().check(z.minLength(1)), version: z.optional(z.record(z.string(), z.string())) }),
  timeVerified: z.iso.datetime({ offset: true }),
  resourceUri: z.string().check(z.minLength(1)),
  policy: resourceDescriptor,
  inputAttestations: z.optional(z.array(resourceDescriptor)),
  verificationResult: z.enum(['PASSED', 'FAILED']),
  verifiedLevels: z.array(z.string()),
  slsaVersion: z.optional(z.string()),
});
export type VsaPredicate = z.infer<typeof vsaPredicateSchema>;

export interface StatementContext {
  /** Who verified: a URI naming this gate (attest.verifierId). */
  readonly verifierId: string;
  readonly verifierVersion: string;
  /** Where the policy lives (attest.policyUri, else the rules directory as a file: URI). */
  readonly policyUri: string;
}

/**
 * The subject an attestation is about: the image's name without tag or digest, and the manifest digest
 * that was checked. A check of one platform of an index attests that platform's manifest, which is what
 * was scanned; the index digest would claim more than was looked at.
 */
export function subjectOf(report: Report): { name: string; digest: Record<string, string> } {
  return { name: nameOf(report.image.reference, report.image.source), digest: digestSetOf(report.image.digest) };
}

/** The VSA for one checked manifest. An error verdict is FAILED: the gate could not say yes. */
export function verificationSummary(report: Report, ctx: StatementContext): Statement {
  const passed = report.verdict === 'pass';
  const name = nameOf(report.image.reference, report.image.source);
  const predicate: VsaPredicate = {
    verifier: { id: ctx.verifierId, version: { imggate: ctx.verifierVersion } },
    timeVerified: report.checkedAt,
    resourceUri: `${name}@${report.image.digest}`,
    policy: { uri: ctx.policyUri, ...(report.policy ? { digest: digestSetOf(report.policy.digest) } : {}) },
    inputAttestations: report.signatures
      .filter((s) => s.verified && s.digest)
      .map((s) => ({ ...(s.uri ? { uri: s.uri } : {}), digest: digestSetOf(s.digest as string) })),
    verificationResult: passed ? 'PASSED' : 'FAILED',
    // imggate checks content and trust, not SLSA build tracks: it claims no track level.
    verifiedLevels: passed ? [] : ['FAILED'],
    slsaVersion: '1.0',
  };
  return { _type: STATEMENT_TYPE, subject: [subjectOf(report)], predicateType: VSA_PREDICATE_TYPE, predicate };
}

/** The second statement: the whole report (which never holds a secret's value) as the predicate. */
export function reportStatement(report: Report): Statement {
  return { _type: STATEMENT_TYPE, subject: [subjectOf(report)], predicateType: REPORT_PREDICATE_TYPE, predicate: report };
}

/** `sha256:abc` → `{ sha256: 'abc' }`, the in-toto DigestSet. */
export function digestSetOf(digest: string): Record<string, string> {
  const colon = digest.indexOf(':');
  return { [digest.slice(0, colon)]: digest.slice(colon + 1) };
}

function nameOf(reference: string, source: Report['image']['source']): string {
  return source === 'registry' ? repositoryNameOf(reference) : reference;
}
