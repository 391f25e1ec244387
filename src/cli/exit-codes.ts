import type { Verdict } from '../report/types.js';

/** The one place verdicts become exit codes: 0 pass, 1 policy failure, 2 error or inconclusive. */
export const EXIT = { pass: 0, fail: 1, error: 2, usage: 2 } as const;

export function exitCodeFor(verdict: Verdict): number {
  return EXIT[verdict];
}
