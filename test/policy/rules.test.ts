import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyPolicy } from '../../src/policy/apply.js';
import { decide } from '../../src/policy/verdict.js';
import { checkRuleExamples } from '../../src/policy/examples.js';
import { loadRules, type RuleSet } from '../../src/policy/load-rules.js';
import { SecretMatcher } from '../../src/scan/analyzers/secrets/matcher.js';
import type { Finding } from '../../src/report/types.js';

describe('the bundled rules', function () {
  let rules: RuleSet;
  before(async () => {
    rules = await loadRules();
  });

  it('load, with at least 50 distinct secret types', function () {
    const types = rules.secretRules.length + rules.fileRules.length;
    assert.ok(types >= 50, `${types} secret rules`);
    assert.match(rules.digest, /^sha256:[a-f0-9]{64}$/);
  });

  it('every secret rule finds each of its positive examples and none of its negatives', function () {
    const { failures, cases } = checkRuleExamples(rules);
    assert.deepEqual(failures, []);
    assert.ok(cases >= 2 * rules.secretRules.length);
  });

  it('the full rule set finds each positive example under its own rule id', function () {
    const all = new SecretMatcher(rules.secretRules);
    for (const rule of rules.secretRules) {
      for (const text of rule.examples.positive) {
        assert.ok(all.scan(text).some((m) => m.rule.id === rule.id), `${rule.id} not found in its example by the full set`);
      }
    }
  });

  it('redacts secrets from build history text', function () {
    const all = new SecretMatcher(rules.secretRules);
    const token = rules.secretRules.find((r) => r.id === 'github-pat-classic')?.examples.positive[0] ?? '';
    const secret = token.split('=')[1] ?? '';
    const redacted = all.redact(`RUN curl -H "Authorization: token ${secret}" https://api.github.com/x`);
    assert.ok(!redacted.includes(secret));
    assert.match(redacted, /\[REDACTED:github-pat-classic\]/);
  });
});

describe('rules directory validation', function () {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-rules-'));
    await mkdir(path.join(dir, 'secrets'));
    await writeFile(path.join(dir, 'policy.yaml'), 'version: 1\nblockAt: high\n');
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  const bad: Array<[string, string, string, RegExp]> = [
    ['policy.yaml', 'policy.yaml', 'version: 1\nblockAt: severe\n', /policy\.yaml is not a valid rule file:\n {2}blockAt: Invalid option/],
    ['an exception without reason', 'policy.yaml', 'version: 1\nexceptions:\n  - rule: jwt\n    reason: x\n    expires: 2030-01-01\n', /exceptions\.0\.reason: say why/],
    ['an exception with a bad date', 'policy.yaml', 'version: 1\nexceptions:\n  - rule: jwt\n    reason: a good reason here\n    expires: next week\n', /exceptions\.0\.expires: a date as YYYY-MM-DD/],
    ['a bad regex', 'secrets/x.yaml', "version: 1\nrules:\n  - id: x\n    title: xxx\n    severity: high\n    keywords: [ab]\n    pattern: '(unclosed'\n    examples: { positive: [a], negative: [b] }\n", /x\.yaml: rules\.0\.pattern \(x\): not a valid regular expression/],
    ['a rule without negatives', 'secrets/x.yaml', "version: 1\nrules:\n  - id: x\n    title: xxx\n    severity: high\n    keywords: [ab]\n    pattern: 'ab'\n    examples: { positive: [ab], negative: [] }\n", /rules\.0\.examples\.negative: give at least one/],
    ['a duplicate id', 'secrets/x.yaml', "version: 1\nfiles:\n  - { id: dup, title: one, severity: high, names: [a] }\n  - { id: dup, title: two, severity: high, names: [b] }\n", /rule id "dup" is defined twice/],
    ['an unknown rule file', 'other.yaml', 'a: 1\n', /unknown rule file other\.yaml/],
    // The matcher runs a rule only where a keyword occurs: "access-key=…" holds no "access_key".
    [
      'keywords that miss some matches',
      'secrets/x.yaml',
      "version: 1\nrules:\n  - id: x\n    title: xxx\n    severity: high\n    keywords: [access_key]\n    pattern: 'access[_-]?key=[a-z]{12}'\n    examples: { positive: [access_key=abcdefghijkl], negative: [b] }\n",
      /rules\.0\.pattern \(x\): can match text holding none of the rule's keywords \(a match holding "access-key=", say\)/,
    ],
    [
      'a pattern with nothing certain to match',
      'secrets/x.yaml',
      "version: 1\nrules:\n  - id: x\n    title: xxx\n    severity: high\n    keywords: [ab]\n    pattern: '[^ ]{12}(?:ab)?'\n    examples: { positive: [abcdefghijkl], negative: [b] }\n",
      /rules\.0\.pattern \(x\): no literal text is certain to occur in a match/,
    ],
  ];
  for (const [what, file, text, pattern] of bad) {
    it(`names the file and field for ${what}`, async function () {
      await writeFile(path.join(dir, file), text);
      await assert.rejects(loadRules(dir), (err: Error) => pattern.test(err.message));
    });
  }

  it('takes keywords that every match holds one of, however the pattern spells the alternatives', async function () {
    const rule = (keywords: string, pattern: string, flags = ''): string =>
      `version: 1\nrules:\n  - id: x\n    title: xxx\n    severity: high\n    keywords: [${keywords}]\n    pattern: '${pattern}'\n${flags ? `    flags: ${flags}\n` : ''}    examples: { positive: [a], negative: [b] }\n`;
    const covered: Array<[string, string, string?]> = [
      // Every spelling of the optional separator is a keyword.
      ['"api_key", "api-key", apikey', 'api[_-]?key=[a-z]{12}'],
      // One keyword each side of an alternation, in any case (the search folds ASCII case).
      ['ghp_, GHO_', '(?:ghp|gho)_[A-Za-z0-9]{36}'],
      // A literal later in the pattern is enough, past classes and bounded repetitions.
      ['"sig="', '[?&]sv=[0-9-]{10}&[^ ]{0,64}?sig=[A-Za-z0-9%]{40}'],
      // A keyword that is a part of each required string.
      ['secretaccess, secret_access', '(?:aws_?secret_?access_?key|secret_?access_?key)=[A-Za-z0-9/+]{40}', 'i'],
    ];
    for (const [keywords, pattern, flags] of covered) {
      await writeFile(path.join(dir, 'secrets', 'x.yaml'), rule(keywords, pattern, flags));
      assert.equal((await loadRules(dir)).secretRules.length, 1, pattern);
    }
    // Under i with u, "ſ" matches "s" where the ASCII keyword search sees no "s": "pass" is not certain.
    await writeFile(path.join(dir, 'secrets', 'x.yaml'), rule('pass', 'pass=[a-z]{12}', 'iu'));
    await assert.rejects(loadRules(dir), /no literal text is certain to occur|can match text holding none/);
  });

  it('refuses a directory without policy.yaml', async function () {
    await rm(path.join(dir, 'policy.yaml'));
    await assert.rejects(loadRules(dir), /no policy\.yaml/);
  });

  it('refuses a directory without secrets/ (a copy that lost its secret rules would find nothing), and takes an empty one', async function () {
    const empty = await loadRules(dir);
    assert.equal(empty.secretRules.length, 0);
    await rm(path.join(dir, 'secrets'), { recursive: true });
    await assert.rejects(loadRules(dir), /has no secrets\/ folder, so no secret would be found/);
  });
});

describe('applyPolicy', function () {
  const finding = (over: Partial<Finding> = {}): Finding => ({ check: 'secret', rule: 'jwt', severity: 'medium', blocking: true, message: 'm', path: '/app/t.txt', ...over });
  async function withPolicy(policy: string): Promise<RuleSet> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-policy-'));
    await mkdir(path.join(dir, 'secrets'));
    await writeFile(path.join(dir, 'policy.yaml'), policy);
    try {
      return await loadRules(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('blocks at or above blockAt, and lets check and rule settings override', async function () {
    const rules = await withPolicy('version: 1\nblockAt: high\nchecks:\n  hygiene: { block: true }\n');
    const [medium, high, hygiene] = applyPolicy([finding(), finding({ severity: 'high' }), finding({ check: 'hygiene', rule: 'x', severity: 'info' })], rules, 'r/x');
    assert.equal(medium?.blocking, false);
    assert.equal(high?.blocking, true);
    assert.equal(hygiene?.blocking, true);
  });

  it('applies scopes by image reference glob, in order', async function () {
    const rules = await withPolicy('version: 1\nblockAt: high\nscopes:\n  - match: "reg.example/sandbox/**"\n    blockAt: critical\n');
    assert.equal(applyPolicy([finding({ severity: 'high' })], rules, 'reg.example/sandbox/a/b')[0]?.blocking, false);
    assert.equal(applyPolicy([finding({ severity: 'high' })], rules, 'reg.example/prod/a')[0]?.blocking, true);
  });

  it('waives with an exception until it expires, then says it expired', async function () {
    const rules = await withPolicy('version: 1\nexceptions:\n  - rule: jwt\n    path: /app/*.txt\n    scope: "reg.example/**"\n    reason: test fixture token, revoked\n    expires: 2030-01-01\n');
    const now = new Date('2029-12-31T12:00:00Z');
    const [waived] = applyPolicy([finding({ severity: 'high' })], rules, 'reg.example/a', now);
    assert.equal(waived?.blocking, false);
    assert.deepEqual(waived?.exception, { reason: 'test fixture token, revoked', expires: '2030-01-01' });
    const later = applyPolicy([finding({ severity: 'high' })], rules, 'reg.example/a', new Date('2030-01-02T00:00:00Z'));
    assert.equal(later[0]?.blocking, true);
    assert.equal(later[1]?.rule, 'exception-expired');
    assert.equal(applyPolicy([finding({ severity: 'high' })], rules, 'other.example/a', now)[0]?.blocking, true, 'out of scope');
  });

  it('makes a blocking feed finding inconclusive, and lets the policy say a stale feed is acceptable', async function () {
    const stale = finding({ check: 'feed', rule: 'stale-feed', severity: 'high', path: undefined });
    const strict = await withPolicy('version: 1\n');
    assert.equal(decide(applyPolicy([stale], strict, 'r/x')), 'error');
    const lenient = await withPolicy('version: 1\nchecks:\n  feed: { block: false }\n');
    assert.equal(decide(applyPolicy([stale], lenient, 'r/x')), 'pass');
  });

  it('never waives digest, layer or analyzer errors', async function () {
    const rules = await withPolicy('version: 1\nchecks:\n  digest: { block: false }\nexceptions:\n  - check: analyzer-error\n    reason: trying to hide a failure\n    expires: 2999-01-01\n');
    const out = applyPolicy([finding({ check: 'digest', rule: 'digest-mismatch' }), finding({ check: 'analyzer-error', rule: 'secrets' })], rules, 'r/x');
    assert.ok(out.every((f) => f.blocking));
  });
});
