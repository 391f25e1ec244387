import type { Finding, Report, Severity, Verdict } from '../report/types.js';
import { SEVERITIES } from '../report/types.js';

/**
 * Fail when any finding blocks; the policy in force has already decided which do. A blocking
 * `feed` finding (a missing or stale feed) means the answer is unknown: inconclusive, not failed.
 */
export function decide(findings: readonly Finding[]): Verdict {
  if (findings.some((f) => f.blocking && f.check === 'feed')) return 'error';
  return findings.some((f) => f.blocking) ? 'fail' : 'pass';
}

/** The verdict over several platform reports: error wins over fail, fail over pass. */
export function combine(verdicts: readonly Verdict[]): Verdict {
  if (verdicts.includes('error')) return 'error';
  if (verdicts.includes('fail')) return 'fail';
  return 'pass';
}

const RANK = new Map<Severity, number>(SEVERITIES.map((s, i) => [s, i]));

/** Deterministic order: blocking first, then severity, check, path, layer, rule. */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort(
    (a, b) =>
      Number(b.blocking) - Number(a.blocking) ||
      (RANK.get(a.severity) ?? 9) - (RANK.get(b.severity) ?? 9) ||
      a.check.localeCompare(b.check) ||
      (a.path ?? '').localeCompare(b.path ?? '') ||
      (a.layer ?? '').localeCompare(b.layer ?? '') ||
      a.rule.localeCompare(b.rule),
  );
}

export type { Report };
