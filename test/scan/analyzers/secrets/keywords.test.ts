import assert from 'node:assert/strict';
import { loadRules } from '../../../../src/policy/load-rules.js';
import { KeywordSearch } from '../../../../src/scan/analyzers/secrets/keywords.js';
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

describe('keyword search', function () {
  it('finds what comparing every keyword at every offset finds, in the same order, over text and bytes', async function () {
    const keywords = [...new Set((await loadRules()).secretRules.flatMap((r) => r.keywords.map((k) => k.toLowerCase())))];
    // Short keywords (one and two characters), keywords that are suffixes of others, and one that
    // ends where another begins.
    keywords.push('x', 'ab', 'word', 'sword', 'wordsmith');
    const search = new KeywordSearch(keywords);
    const random = rng(20261130);
    const alphabet = [...new Set(keywords.join(''))];
    const pieces = [...keywords, ...keywords.map((k) => k.toUpperCase()), '\u00e9', '\u0100', '\u2028', '\0', ' ', '\n'];
    for (let run = 0; run < 200; run++) {
      let text = '';
      while (text.length < 400) {
        const r = random();
        const piece = r < 0.25 ? (pieces[Math.floor(random() * pieces.length)] as string) : (alphabet[Math.floor(random() * alphabet.length)] as string);
        text += random() < 0.2 ? piece.replace(/[a-z]/g, (c) => (random() < 0.5 ? c.toUpperCase() : c)) : piece;
      }
      const expected = reference(keywords, text);
      assert.deepEqual(hits(search, text), expected, `text, run ${run}: ${JSON.stringify(text)}`);
      // As bytes, a character past latin1 is a byte of its own (here its low byte): compare with the reference over that string.
      const bytes = Buffer.from(text, 'latin1');
      assert.deepEqual(hits(search, bytes), reference(keywords, bytes.toString('latin1')), `bytes, run ${run}`);
    }
  });

  it('finds keywords in random binary content as the reference does', function () {
    const keywords = ['q~', 'eyj', 'password', 'akia', '://'];
    const search = new KeywordSearch(keywords);
    const random = rng(7);
    const bytes = Buffer.alloc(200_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
    // Plant each keyword, cased both ways, at a few places, one at the very start and one at the end.
    const planted = ['Q~', 'password', 'EYJ', 'AkIa', '://'];
    planted.forEach((k, n) => bytes.write(k, 1 + n * 37_000, 'latin1'));
    bytes.write('q~', 0, 'latin1');
    bytes.write('akia', bytes.length - 4, 'latin1');
    const found = hits(search, bytes);
    assert.deepEqual(found, reference(keywords, bytes.toString('latin1')));
    assert.ok(found.length >= planted.length + 2);
  });

  it('refuses a keyword outside ASCII, which it could never find', function () {
    assert.throws(() => new KeywordSearch(['caf\u00e9']), /not printable ASCII/);
  });
});
