import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadRules } from '../../../../src/policy/load-rules.js';
import { KeywordSearch, type PrefilterUse } from '../../../../src/scan/analyzers/secrets/keywords.js';
import { Prefilter } from '../../../../src/scan/analyzers/secrets/prefilter.js';
import { PREFILTER_SOURCE_SHA256, PREFILTER_WASM } from '../../../../src/scan/analyzers/secrets/prefilter-wasm.js';
import { PACKAGE_ROOT } from '../../../../src/package-root.js';
import { rng } from '../../../helpers/rng.js';

/**
 * The reference: at every end offset, every keyword compared there character by character (ASCII
 * letters folded, anything past ASCII matching nothing), longest first: the order the Aho–Corasick
 * automaton reports hits in, which the matcher's windows are merged by. Any faster prefilter must
 * give exactly these hits.
 */
function reference(keywords: readonly string[], text: string): Array<[number, number]> {
  const fold = (code: number): number => (code >= 65 && code <= 90 ? code + 32 : code < 128 ? code : -1);
  const byLength = keywords.map((k, i) => [k.toLowerCase(), i] as const).sort((a, b) => b[0].length - a[0].length);
  const out: Array<[number, number]> = [];
  for (let end = 1; end <= text.length; end++) {
    for (const [k, index] of byLength) {
      const start = end - k.length;
      if (start < 0) continue;
      let same = true;
      for (let j = 0; j < k.length && same; j++) same = fold(text.charCodeAt(start + j)) === k.charCodeAt(j);
      if (same) out.push([index, start]);
    }
  }
  return out;
}

function hits(search: KeywordSearch, input: string | Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (typeof input === 'string') search.search(input, (k, start) => out.push([k, start]));
  else search.searchBytes(input, (k, start) => out.push([k, start]));
  return out;
}

/** Whether a command runs here. */
function runs(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('keyword search', function () {
  let ruleKeywords: string[];
  before(async () => {
    ruleKeywords = [...new Set((await loadRules()).secretRules.flatMap((r) => r.keywords.map((k) => k.toLowerCase())))];
  });

  // The automaton alone, the WebAssembly prefilter for every input, and the default (the prefilter for long ones).
  for (const use of ['never', 'always', 'auto'] as PrefilterUse[]) {
    it(`finds what comparing every keyword at every offset finds, in the same order, over text and bytes (prefilter: ${use})`, function () {
      // Short keywords (two characters, three), keywords that are suffixes and prefixes of others, one twice.
      const keywords = [...ruleKeywords, 'ab', 'word', 'sword', 'wordsmith', 'word'];
      const search = new KeywordSearch(keywords, use);
      assert.equal(search.accelerated, use !== 'never', 'the prefilter serves the bundled rules\' keywords');
      const random = rng(20261130);
      const alphabet = [...new Set(keywords.join(''))];
      const pieces = [...keywords, ...keywords.map((k) => k.toUpperCase()), '\u00e9', '\u0100', '\u2028', '\0', ' ', '\n'];
      // Texts of 200 characters (the automaton's, under auto) and of 4,000 (the prefilter's).
      for (let run = 0; run < 120; run++) {
        let text = '';
        const size = run % 3 === 0 ? 4000 : 200;
        while (text.length < size) {
          const r = random();
          const piece = r < 0.25 ? (pieces[Math.floor(random() * pieces.length)] as string) : (alphabet[Math.floor(random() * alphabet.length)] as string);
          text += random() < 0.2 ? piece.replace(/[a-z]/g, (c) => (random() < 0.5 ? c.toUpperCase() : c)) : piece;
        }
        assert.deepEqual(hits(search, text), reference(keywords, text), `text, run ${run}: ${JSON.stringify(text)}`);
        // As bytes, a character past latin1 is a byte of its own (here its low byte): compare with the reference over that string.
        const bytes = Buffer.from(text, 'latin1');
        assert.deepEqual(hits(search, bytes), reference(keywords, bytes.toString('latin1')), `bytes, run ${run}`);
        const latin1 = bytes.toString('latin1');
        assert.deepEqual(hits(search, latin1), reference(keywords, latin1), `latin1 text, run ${run}`);
      }
    });

    it(`finds keywords in random binary content as the reference does, at its very start and end too (prefilter: ${use})`, function () {
      const keywords = ['q~', 'eyj', 'password', 'akia', '://', 'begin openssh private key'];
      const search = new KeywordSearch(keywords, use);
      const random = rng(7);
      const bytes = Buffer.alloc(200_000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      const planted = ['Q~', 'password', 'EYJ', 'AkIa', '://', 'BEGIN OPENSSH PRIVATE KEY'];
      planted.forEach((k, n) => bytes.write(k, 1 + n * 33_000, 'latin1'));
      bytes.write('q~', 0, 'latin1');
      bytes.write('akia', bytes.length - 4, 'latin1');
      const found = hits(search, bytes);
      assert.deepEqual(found, reference(keywords, bytes.toString('latin1')));
      assert.ok(found.length >= planted.length + 2);
      // Two hits at nearly every position: more than the prefilter's output holds, so the automaton takes over.
      const overlapping = new KeywordSearch(['aa', 'aaa'], use);
      const dense = Buffer.from('a'.repeat(20_000), 'latin1');
      const all = hits(overlapping, dense);
      assert.equal(all.length, 19_999 + 19_998);
      assert.deepEqual(all, reference(['aa', 'aaa'], dense.toString('latin1')));
    });
  }

  it('finds what the reference finds for generated keyword sets too (the prefilter\'s buckets and slots filled every which way)', function () {
    const random = rng(31);
    const alphabet = 'abcxyzABC019_-.:/~= ';
    const word = (min: number, max: number): string =>
      Array.from({ length: min + Math.floor(random() * (max - min + 1)) }, () => alphabet[Math.floor(random() * alphabet.length)] as string).join('');
    for (let set = 0; set < 40; set++) {
      // Two-character keywords are few (each fills 16,384 slots); the rest two to nine characters, up to 200 of them.
      const keywords = [...new Set([...Array.from({ length: 1 + Math.floor(random() * 3) }, () => word(2, 2)), ...Array.from({ length: Math.floor(random() * 200) }, () => word(3, 9))].map((k) => k.toLowerCase()))];
      const search = new KeywordSearch(keywords, 'always');
      assert.ok(search.accelerated, `set ${set}`);
      for (let run = 0; run < 5; run++) {
        const text = Array.from({ length: 300 }, () => (random() < 0.3 ? (keywords[Math.floor(random() * keywords.length)] as string) : word(1, 4))).join('');
        const cased = text.replace(/[a-z]/g, (c) => (random() < 0.3 ? c.toUpperCase() : c));
        assert.deepEqual(hits(search, Buffer.from(cased, 'latin1')), reference(keywords, cased), `set ${set}, run ${run}`);
      }
    }
  });

  it('refuses a keyword outside ASCII, which it could never find', function () {
    assert.throws(() => new KeywordSearch(['caf\u00e9']), /not printable ASCII/);
  });

  it('falls back to the automaton for keyword sets the prefilter cannot hold', function () {
    // A one-character keyword (128^3 completions) and more than 256 keywords.
    assert.equal(new KeywordSearch(['x', 'token']).accelerated, false);
    const many = Array.from({ length: 300 }, (_, i) => `kw${i}_`);
    const search = new KeywordSearch(many);
    assert.equal(search.accelerated, false);
    const text = many.slice(0, 50).join(' ').repeat(20);
    assert.deepEqual(hits(search, text), reference(many, text));
  });

  it('fills the prefilter\'s slots by the hash its module looks them up by', function () {
    const prefilter = Prefilter.create([Uint8Array.from('token', (c) => c.charCodeAt(0))]);
    assert.ok(prefilter);
    const random = rng(11);
    for (let i = 0; i < 10_000; i++) {
      const gram = Math.floor(random() * 2 ** 32);
      assert.equal(Prefilter.slotOf(gram), prefilter.slotInModule(gram), `gram ${gram}`);
    }
  });

  it('runs the prefilter compiled from the prefilter.c in the tree (npm run build:wasm after changing it)', async function () {
    const source = await readFile(new URL('src/scan/analyzers/secrets/prefilter.c', PACKAGE_ROOT));
    assert.equal(createHash('sha256').update(source).digest('hex'), PREFILTER_SOURCE_SHA256, 'prefilter.c changed since prefilter-wasm.ts was built');
    if (!runs('clang-14', ['--version']) || !runs('wasm-ld-14', ['--version'])) {
      // CI installs clang-14 and lld-14, and so compares the module with a fresh build.
      this.skip();
    }
    const { compile } = (await import(new URL('tools/build-wasm.mjs', PACKAGE_ROOT).href)) as { compile(root: string): Buffer };
    const root = new URL('.', PACKAGE_ROOT).pathname;
    assert.equal(compile(root).toString('base64'), PREFILTER_WASM, 'a fresh build of prefilter.c differs from prefilter-wasm.ts');
  });
});
