import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadRules, type RuleSet } from '../../src/policy/load-rules.js';
import { checkLinear, patternShape } from '../../src/policy/redos.js';
import { checkRulePatterns } from '../../src/policy/redos-rules.js';
import { SecretMatcher, type ScanStats } from '../../src/scan/analyzers/secrets/matcher.js';

const KIB = 1024;

/**
 * Rules that backtracked super-linearly before (issue 12), with the pattern they had and a text built
 * to make that pattern backtrack: seconds to minutes on a few hundred KiB. The old pattern is kept
 * here only to show the structural check refuses it; it is never run.
 */
const slowBefore: Array<{ id: string; old: string; crafted: (n: number) => string }> = [
  {
    id: 'private-key-rsa',
    old: '-----BEGIN RSA PRIVATE KEY-----\\s*(?<secret>[A-Za-z0-9+/=\\s:,-]{64,}?)\\s*-----END RSA PRIVATE KEY-----',
    crafted: (n) => '-----BEGIN RSA PRIVATE KEY-----\n'.repeat(Math.ceil(n / 32)),
  },
  {
    id: 'private-key-pgp',
    old: '-----BEGIN PGP PRIVATE KEY BLOCK-----\\s*(?<secret>[A-Za-z0-9+/=\\s:,-]{64,}?)\\s*-----END PGP PRIVATE KEY BLOCK-----',
    crafted: (n) => `-----BEGIN PGP PRIVATE KEY BLOCK-----\n${'A '.repeat(n / 2)}`,
  },
  {
    id: 'npmrc-auth',
    old: '(?:^|\\n)\\s*(?://[^\\s=]+:)?_(?:auth|password)\\s*=\\s*(?<secret>[A-Za-z0-9+/]{12,}={0,2})',
    crafted: (n) => `\n//${'a:'.repeat(n / 2)}_auth`,
  },
  {
    id: 'jwt',
    old: '\\b(?<secret>eyJ[A-Za-z0-9_-]{10,}\\.eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{20,})',
    crafted: (n) => `${'eyJaaaaaaaaaaaa.'.repeat(n / 16)}`,
  },
  {
    id: 'openai-api-key',
    old: '\\b(?<secret>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,})',
    crafted: (n) => `${'sk-'.repeat(n / 3)}T3BlbkFJ`,
  },
  {
    id: 'kubeconfig-token',
    old: 'kind:\\s*Config[\\s\\S]{0,4000}?\\n\\s+token:\\s*["\']?(?<secret>[A-Za-z0-9._~+/-]{20,}=*)',
    crafted: (n) => `kind: Config\n${' \n'.repeat(n / 2)}`,
  },
  {
    id: 'generic-secret-assignment',
    old: '(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)[A-Za-z0-9_.-]{0,40}["\']?[ \\t]*[:=][ \\t]*["\']?(?<secret>[A-Za-z0-9+/=_!@#%^&*.,~-]{12,128})(?=["\'\\s,;]|$)',
    crafted: (n) => `password${' '.repeat(n)}`,
  },
  {
    id: 'url-password',
    old: '(?<=\\b[a-z][a-z0-9+.-]{1,20})://[^\\s:/@"\'<>]{1,64}:(?<secret>[^\\s:/@"\'<>]{3,128})@[A-Za-z0-9.-]+',
    crafted: (n) => `a://b:cde@${'x'.repeat(n)}!`,
  },
];

describe('secret rules run in linear time (issue 12)', function () {
  let rules: RuleSet;
  before(async () => {
    rules = await loadRules();
  });

  for (const { id, old, crafted } of slowBefore) {
    it(`${id}: the old pattern is refused, the new one is checked linear and reads each character a bounded number of times`, async function () {
      const rule = rules.secretRules.find((r) => r.id === id);
      assert.ok(rule, id);
      assert.ok(patternShape(old, 'g').problems.length > 0, 'the structural check refuses the old pattern');
      const shape = patternShape(rule.pattern, `g${rule.flags ?? ''}`);
      assert.deepEqual(shape.problems, []);
      assert.equal(shape.maxLength, rule.maxLength);
      const verdict = await checkLinear(rule.pattern, `g${rule.flags ?? ''}`);
      assert.deepEqual(verdict, { linear: true, summary: 'safe' });
      // The work on the crafted text: one keyword pass, and each rule's windows at most the text once.
      const text = crafted(256 * KIB);
      const stats: ScanStats = { searched: 0, windowed: 0 };
      const matcher = new SecretMatcher(rules.secretRules);
      matcher.scan(text, stats);
      assert.equal(stats.searched, text.length);
      assert.ok(stats.windowed <= text.length * rules.secretRules.length, `${stats.windowed} characters windowed for ${text.length}`);
      // Doubling the text at most doubles the work (plus one window): linear, not quadratic.
      const twice = { searched: 0, windowed: 0 };
      matcher.scan(crafted(512 * KIB), twice);
      assert.ok(twice.windowed <= 2 * stats.windowed + 2 * (rule.maxLength + 64) * rules.secretRules.length, `${twice.windowed} vs ${stats.windowed}`);
    });
  }

  it('every bundled pattern and allow pattern is shown linear by the ReDoS checker', async function () {
    // The checker's own time limit is per pattern; this bounds the whole run on a loaded machine.
    this.timeout(1_200_000);
    const slow = await checkRulePatterns(rules);
    assert.deepEqual(slow, []);
  });
});

describe('rules that could backtrack are refused at load', function () {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-redos-'));
    await mkdir(path.join(dir, 'secrets'));
    await writeFile(path.join(dir, 'policy.yaml'), 'version: 1\n');
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  const refused: Array<[string, string, RegExp]> = [
    ['an unbounded repetition', 'ab[a-z]+c', /rules\.0\.pattern \(x\): may backtrack super-linearly: an unbounded repetition "\[a-z\]\+"/],
    ['a star', 'ab\\s*c', /an unbounded repetition/],
    ['a repeated alternation', '(?:a|a){0,30}b', /holds another repetition or an alternation/],
    ['a repeated repetition', '(?:a{1,3}){1,10}b', /holds another repetition or an alternation/],
    ['a backreference', '(ab)\\1', /a backreference/],
    ['a match longer than the window', 'ab[a-z]{0,70000}', /a longest match of 70002 characters/],
  ];
  for (const [what, pattern, message] of refused) {
    it(`refuses ${what}`, async function () {
      const yaml = `version: 1\nrules:\n  - id: x\n    title: xxx\n    severity: high\n    keywords: [ab]\n    pattern: '${pattern}'\n    examples: { positive: [abc], negative: [b] }\n`;
      await writeFile(path.join(dir, 'secrets', 'x.yaml'), yaml);
      await assert.rejects(loadRules(dir), (err: Error & { code?: string }) => err.code === 'CONFIG_INVALID' && message.test(err.message));
    });
  }

  it('the ReDoS checker flags a pattern the structural check lets through', async function () {
    // Bounded small counts pass the structure check; a nested ambiguity in an unbounded form does not pass recheck.
    const verdict = await checkLinear('x\\s*\\s*y', 'g');
    assert.equal(verdict.linear, false);
    assert.match(verdict.summary, /polynomial/);
  });
});
