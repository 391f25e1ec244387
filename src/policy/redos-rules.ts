import type { RuleSet } from './load-rules.js';
import { checkLinear } from './redos.js';

export interface SlowPattern {
  readonly rule: string;
  readonly file: string;
  /** `pattern` or `allowPatterns.N`. */
  readonly field: string;
  readonly summary: string;
}

/**
 * Runs the ReDoS checker over every pattern of every secret rule (and its allow patterns, which run
 * on each candidate secret). Used by `imggate rules check`: it takes seconds, so a scan's rule
 * loading relies on the structural check alone.
 */
export async function checkRulePatterns(rules: RuleSet): Promise<SlowPattern[]> {
  const out: SlowPattern[] = [];
  for (const rule of rules.secretRules) {
    const patterns: Array<[string, string, string]> = [['pattern', rule.pattern, `g${rule.flags ?? ''}`]];
    for (const [i, p] of (rule.allowPatterns ?? []).entries()) patterns.push([`allowPatterns.${i}`, p, 'i']);
    for (const [field, source, flags] of patterns) {
      const verdict = await checkLinear(source, flags);
      if (!verdict.linear) out.push({ rule: rule.id, file: rule.file, field, summary: verdict.summary });
    }
  }
  return out;
}
