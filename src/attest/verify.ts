import type { KeyObject } from 'node:crypto';
import { bundleFromJSON, BUNDLE_V03_MEDIA_TYPE, type Bundle } from '@sigstore/bundle';
import { toSignedEntity, Verifier } from '@sigstore/verify';
import { ImggateError, type AttestErrorCode } from '../errors.js';
import { keyTrustMaterial, withoutLogEvidence } from '../verify/bundle.js';
import { INTOTO_PAYLOAD_TYPE, statementSchema, VSA_PREDICATE_TYPE, vsaPredicateSchema, type Statement, type VsaPredicate } from './statement.js';

/** The largest bundle imggate will parse; a VSA bundle is a few KiB, a report bundle rarely over 1 MiB. */
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;

/**
 * Verifies a Sigstore bundle holding a DSSE-signed in-toto statement against one public key, offline
 * (no transparency log or timestamp required, none trusted), and returns the statement. Does no I/O.
 */
export function verifyStatementBundle(bytes: Buffer, publicKey: KeyObject): Statement {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(JSON.parse(bytes.toString('utf8')));
  } catch (err) {
    throw new ImggateError<AttestErrorCode>('BUNDLE_INVALID', `not a Sigstore bundle: ${(err as Error).message}`, { cause: err });
  }
  if (bundle.mediaType !== BUNDLE_V03_MEDIA_TYPE) {
    throw new ImggateError<AttestErrorCode>('BUNDLE_INVALID', `bundle media type ${bundle.mediaType}, expected ${BUNDLE_V03_MEDIA_TYPE}`);
  }
  if (bundle.content.$case !== 'dsseEnvelope') throw new ImggateError<AttestErrorCode>('BUNDLE_INVALID', 'the bundle holds a message signature, not a DSSE envelope');
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.payloadType !== INTOTO_PAYLOAD_TYPE) {
    throw new ImggateError<AttestErrorCode>('BUNDLE_INVALID', `DSSE payload type ${envelope.payloadType}, expected ${INTOTO_PAYLOAD_TYPE}`);
  }
  // The key the user named is the only one trusted, whatever hint the bundle carries.
  const trust = keyTrustMaterial(publicKey);
  try {
    // The gate's key is the trust anchor; a log entry (attest.rekorUrl) is for auditors, not checked here.
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(withoutLogEvidence(bundle)));
  } catch (err) {
    throw new ImggateError<AttestErrorCode>('SIGNATURE_INVALID', `the signature does not verify with the given key: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(envelope.payload.toString('utf8'));
  } catch (err) {
    throw new ImggateError<AttestErrorCode>('STATEMENT_INVALID', 'the signed payload is not JSON', { cause: err });
  }
  const parsed = statementSchema.safeParse(json);
  if (!parsed.success) throw new ImggateError<AttestErrorCode>('STATEMENT_INVALID', `the signed payload is not an in-toto Statement v1: ${issues(parsed.error)}`);
  return parsed.data;
}

/** The VSA predicate of a verified statement, validated. */
export function vsaOf(statement: Statement): VsaPredicate {
  if (statement.predicateType !== VSA_PREDICATE_TYPE) {
    throw new ImggateError<AttestErrorCode>('STATEMENT_INVALID', `predicate type ${statement.predicateType}, not ${VSA_PREDICATE_TYPE}`);
  }
  const parsed = vsaPredicateSchema.safeParse(statement.predicate);
  if (!parsed.success) throw new ImggateError<AttestErrorCode>('STATEMENT_INVALID', `not a SLSA verification summary: ${issues(parsed.error)}`);
  return parsed.data;
}

function issues(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}
