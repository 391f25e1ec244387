import { SecretMatcher } from '../scan/analyzers/secrets/matcher.js';
import type { RuleSet } from './load-rules.js';

export interface ExampleFailure {
  readonly rule: string;
  readonly file: string;
  readonly kind: 'positive' | 'negative';
  readonly index: number;
}

/**
 * Runs every secret rule's examples: each positive must be found by the rule, each negative must not.
 * Each rule runs alone, through the same prefilter and allow lists as a scan.
 */
export function checkRuleExamples(rules: RuleSet): { failures: ExampleFailure[]; cases: number } {
  const failures: ExampleFailure[] = [];
  let cases = 0;
  for (const rule of rules.secretRules) {
    const matcher = new SecretMatcher([rule]);
    for (const kind of ['positive', 'negative'] as const) {
      rule.examples[kind].forEach((text, index) => {
        cases++;
        const found = matcher.scan(text).length > 0;
        if (found !== (kind === 'positive')) failures.push({ rule: rule.id, file: rule.file, kind, index });
      });
    }
  }
  return { failures, cases };
}
