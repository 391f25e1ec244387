import type { Finding, Severity } from '../report/types.js';
import { SEVERITIES } from '../report/types.js';
import { globMatch } from './glob.js';
import type { RuleSet } from './load-rules.js';
import type { PolicyException, PolicyFile } from './rules-schema.js';

/** Checks that report the gate's own failure to conclude: no policy or exception may waive them. */
export const FAIL_CLOSED_CHECKS = new Set(['digest', 'analyzer-error', 'layer']);

const rank = (s: Severity): number => SEVERITIES.indexOf(s);

type Layer = Pick<PolicyFile, 'blockAt' | 'checks' | 'rules'>;

/**
 * Decides, for every finding, its severity and whether it blocks under the policy in force for
 * `scope` (`registry/repository`), and applies the exceptions that have not expired. An expired
 * exception stops applying, and the report says so in an info finding.
 */
export function applyPolicy(findings: readonly Finding[], rules: RuleSet, scope: string, now: Date = new Date()): Finding[] {
  const layers: Layer[] = [rules.policy, ...(rules.policy.scopes ?? []).filter((s) => globMatch(s.match, scope))];
  const today = now.toISOString().slice(0, 10);
  const exceptions = (rules.policy.exceptions ?? []).filter((e) => e.scope === undefined || globMatch(e.scope, scope));
  const expiredUsed = new Set<PolicyException>();
  const out: Finding[] = [];
  for (const finding of findings) {
    if (FAIL_CLOSED_CHECKS.has(finding.check)) {
      out.push({ ...finding, blocking: true });
      continue;
    }
    let severity = finding.severity;
    let blockAt: Severity = 'high';
    let block: boolean | undefined;
    for (const layer of layers) {
      if (layer.blockAt) blockAt = layer.blockAt;
      for (const setting of [layer.checks?.[finding.check], layer.rules?.[finding.rule]]) {
        if (setting?.severity) severity = setting.severity;
        if (setting?.block !== undefined) block = setting.block;
      }
    }
    let placed: Finding = { ...finding, severity, blocking: block ?? rank(severity) <= rank(blockAt) };
    const exception = exceptions.find((e) => matches(e, placed));
    if (exception) {
      if (exception.expires >= today) {
        placed = { ...placed, blocking: false, exception: { reason: exception.reason, expires: exception.expires } };
      } else {
        expiredUsed.add(exception);
      }
    }
    out.push(placed);
  }
  for (const e of expiredUsed) {
    out.push({
      check: 'policy',
      rule: 'exception-expired',
      severity: 'info',
      blocking: false,
      message: `the exception for ${e.rule ?? e.check}${e.path ? ` at ${e.path}` : ''} expired on ${e.expires} and no longer applies ("${e.reason}")`,
    });
  }
  return out;
}

function matches(e: PolicyException, f: Finding): boolean {
  if (e.rule !== undefined && e.rule !== f.rule) return false;
  if (e.check !== undefined && e.check !== f.check) return false;
  if (e.path !== undefined && (f.path === undefined || !globMatch(e.path, f.path))) return false;
  if (e.fingerprint !== undefined && e.fingerprint !== f.fingerprint) return false;
  return true;
}
