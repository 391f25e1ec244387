import { isImggateError } from '../errors.js';
import type { Finding, ImageSection, Report } from './types.js';

/** The report's schema name, which scripts match on (../shared/report-contract.md). */
export const SCHEMA = 'imggate.report/v1' as const;

/** Checks for which a failure is about integrity of the bytes, reported under the `digest` check. */
const INTEGRITY = new Set(['DIGEST_MISMATCH', 'SIZE_MISMATCH', 'DIFF_ID_MISMATCH', 'DIGEST_INVALID']);

/** The report of a check that could not reach a verdict: verdict `error`, the cause's code and message. */
export function errorReport(image: ImageSection, err: unknown, started: number): Report {
  const code = isImggateError(err) ? err.code : 'INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  const findings: Finding[] = INTEGRITY.has(code)
    ? [{ check: 'digest', rule: code.toLowerCase().replace(/_/g, '-'), severity: 'critical', blocking: true, message }]
    : [];
  return {
    schema: SCHEMA,
    image,
    verdict: 'error',
    findings,
    signatures: [],
    error: { code, message },
    checkedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
  };
}
