import { checkRuleExamples } from '../policy/examples.js';
import { loadRules } from '../policy/load-rules.js';
import { say, usage } from './common.js';
import { EXIT } from './exit-codes.js';
import { RULES_HELP } from './help.js';
import type { Io } from './main.js';

/** `imggate rules check [DIR]`: validates a rules directory, runs its examples and the ReDoS checker. */
export async function runRules(args: readonly string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout.write(RULES_HELP);
    return sub === undefined ? EXIT.usage : 0;
  }
  if (sub !== 'check') throw usage(`unknown rules command "${sub}"`);
  if (rest.length > 1) throw usage('rules check takes at most one directory');
  const dir = rest[0];
  let rules;
  try {
    rules = await loadRules(dir);
  } catch (err) {
    say(io.stderr, `imggate: ${(err as Error).message}\n`);
    return EXIT.fail;
  }
  const { failures, cases } = checkRuleExamples(rules);
  for (const f of failures) {
    say(io.stderr, `${f.file}: rule ${f.rule}: ${f.kind} example ${f.index + 1} ${f.kind === 'positive' ? 'is not found' : 'is found'}\n`);
  }
  const { checkRulePatterns } = await import('../policy/redos-rules.js');
  const slow = await checkRulePatterns(rules);
  for (const f of slow) say(io.stderr, `${f.file}: rule ${f.rule}: ${f.field} may backtrack super-linearly: ${f.summary}\n`);
  const types = rules.secretRules.length + rules.fileRules.length;
  say(io.stdout, `${rules.dir}: ${rules.info.size} rules (${types} secret types), ${cases} examples run, ${failures.length} failing; ${slow.length} pattern(s) not shown linear by the ReDoS checker; policy digest ${rules.digest}\n`);
  const t = rules.trust;
  say(io.stdout, `trust: ${t.signers.size} signer(s), ${t.scopes.length} scope(s) (${t.scopes.map((s) => `${s.origin}: ${s.level}`).join('; ') || 'none'}), default ${t.defaultLevel}\n`);
  return failures.length || slow.length ? EXIT.fail : 0;
}
