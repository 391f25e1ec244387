import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadRules, type CompiledSecretRule } from '../../../../src/policy/load-rules.js';
import { entropy, fingerprint, SecretMatcher } from '../../../../src/scan/analyzers/secrets/matcher.js';
import { StreamScanner, type StreamMatch } from '../../../../src/scan/analyzers/secrets/text.js';
import { rng } from '../../../helpers/rng.js';

/**
 * The oracle: each rule's pattern run over the whole text with matchAll, the secret judged as the
 * matcher judges it. The matcher runs a rule only near its keywords (in a window, or at the offsets
 * before an anchor keyword where a match can start) and must find exactly this.
 */
function oracle(rules: readonly CompiledSecretRule[], text: string): string[] {
  const out: Array<{ index: number; id: string; key: string }> = [];
  for (const rule of rules) {
    const regex = new RegExp(rule.regex.source, rule.regex.flags);
    for (const m of text.matchAll(regex)) {
      const secret = m.groups?.['secret'] ?? m[1] ?? m[0];
      if (!secret || rule.allow?.includes(secret) || rule.allowRegexes.some((r) => r.test(secret))) continue;
      if (rule.entropy !== undefined && entropy(secret) < rule.entropy) continue;
      const index = (m.index ?? 0) + Math.max(0, m[0].indexOf(secret));
      out.push({ index, id: rule.id, key: `${rule.id}@${index}+${secret.length}:${fingerprint(rule.id, secret)}` });
    }
  }
  return out.sort((a, b) => a.index - b.index || a.id.localeCompare(b.id)).map((o) => o.key);
}

const key = (m: { rule: CompiledSecretRule; index: number; length: number; fingerprint: string }): string => `${m.rule.id}@${m.index}+${m.length}:${m.fingerprint}`;

describe('secret matcher', function () {
  let rules: readonly CompiledSecretRule[];
  let matcher: SecretMatcher;
  let positives: string[];
  let negatives: string[];
  before(async () => {
    rules = (await loadRules()).secretRules;
    matcher = new SecretMatcher(rules);
    positives = rules.flatMap((r) => r.examples?.positive ?? []);
    negatives = rules.flatMap((r) => r.examples?.negative ?? []);
    assert.ok(positives.length > 50, 'the bundled rules carry positive examples');
  });

  it('finds every example, at the start of a text, at its end, and alone', function () {
    for (const example of positives) {
      for (const text of [example, `${example}\nfiller text`, `some filler text\n${example}`, `x\n${example}\n`]) {
        assert.deepEqual(matcher.scan(text).map(key), oracle(rules, text), JSON.stringify(text));
        assert.ok(matcher.scan(text).length > 0, JSON.stringify(text));
      }
    }
  });

  it('finds what the whole-text oracle finds in generated texts, however the keywords are cased', function () {
    const random = rng(20261130);
    const words = ['lorem', 'ipsum', 'token', 'secret', 'password', 'machine', 'url', '://', 'eyJ', '-us', 'Q~', 'sig=', '\n', ' ', '=', ':', '"'];
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const recase = (s: string): string => (random() < 0.3 ? s.toUpperCase() : random() < 0.5 ? s.replace(/[a-z]/g, (c) => (random() < 0.5 ? c.toUpperCase() : c)) : s);
    for (let run = 0; run < 60; run++) {
      const parts: string[] = [];
      for (let i = 0; i < 120; i++) {
        const r = random();
        parts.push(r < 0.15 ? pick(positives) : r < 0.3 ? pick(negatives) : r < 0.35 ? recase(pick(positives)) : pick(words));
        parts.push(pick([' ', '\n', '', '\t', ', ']));
      }
      const text = parts.join('');
      assert.deepEqual(matcher.scan(text).map(key), oracle(rules, text), `run ${run}`);
    }
  });

  it('reads bytes outside ASCII (latin1, invalid UTF-8) around and inside keywords as matching nothing', function () {
    const secret = 'postgres://app:kIhDdJO7hi3ub6CF@db.internal:5432/app';
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80]), Buffer.from(secret, 'latin1'), Buffer.from([0xe2, 0x82, 0x00, 0xa0])]);
    const text = bytes.toString('latin1');
    const found = matcher.scanLatin1(bytes).map(key);
    assert.deepEqual(found, oracle(rules, text));
    assert.ok(found.some((k) => k.startsWith('url-password@')));
    // A non-ASCII byte inside a keyword breaks it: "pass\xe9word" names no password.
    const broken = Buffer.from('db_pass\xe9word=tvkx4IvA3TInQrudRW3nZIx1\n', 'latin1');
    assert.deepEqual(matcher.scanLatin1(broken).map(key), oracle(rules, broken.toString('latin1')));
  });

  it('runs a rule whose matches begin with one of several keywords only where one begins, one inside another too', async function () {
    // "pike" inside "apikey": the hit for "pike" ends first but starts later, so the ranges to try come out of order.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-anchor-'));
    try {
      await mkdir(path.join(dir, 'secrets'));
      await writeFile(path.join(dir, 'policy.yaml'), 'version: 1\n');
      await writeFile(
        path.join(dir, 'secrets', 'x.yaml'),
        "version: 1\nrules:\n  - id: x\n    title: xxx\n    severity: high\n    keywords: [apikey, pike, tok]\n    pattern: '(?:apikey|pike|tok(?:en)?)[=:](?<secret>[a-z0-9]{4,12})'\n    examples: { positive: [pike=abcd], negative: [b] }\n",
      );
      const own = (await loadRules(dir)).secretRules;
      assert.deepEqual(own[0]?.prefixes, ['apikey:', 'apikey=', 'pike:', 'pike=', 'tok:', 'tok=', 'token:', 'token=']);
      const anchored = new SecretMatcher(own);
      const random = rng(5);
      const words = ['apikey=', 'pike:', 'token=', 'tok:', 'apapikey=', 'xyz', ' ', '\n', 'abcd', '0123456789abcdef'];
      for (let run = 0; run < 200; run++) {
        const text = Array.from({ length: 40 }, () => words[Math.floor(random() * words.length)] as string).join('');
        assert.deepEqual(anchored.scan(text).map(key), oracle(own, text), JSON.stringify(text));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('finds a secret split across two pieces, and a keyword at a piece end, exactly once', function () {
    const examples = ['DATABASE_URL=postgres://app:kIhDdJO7hi3ub6CF@db.internal:5432/app', 'machine api.example.com login deploy password Vu7NwPQbDAwWjUAYYShI', 'DB_PASSWORD=tvkx4IvA3TInQrudRW3nZIx1'];
    for (const example of examples) {
      const text = `${'filler line\n'.repeat(400)}${example}\n${'more filler\n'.repeat(400)}`;
      const bytes = Buffer.from(text, 'latin1');
      const whole = oracle(rules, text);
      assert.ok(whole.length > 0, example);
      const start = text.indexOf(example);
      // Every cut from just before the example to just after it, the keyword's own edges among them.
      for (let cut = start - 2; cut <= start + example.length + 2; cut++) {
        const found: string[] = [];
        const scanner = new StreamScanner(matcher, (m: StreamMatch) => found.push(key(m)), 1);
        scanner.write(bytes.subarray(0, cut));
        scanner.write(bytes.subarray(cut));
        scanner.end();
        assert.deepEqual(found, whole, `${example} cut at ${cut - start}`);
      }
    }
  });
});
