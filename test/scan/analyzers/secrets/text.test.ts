import assert from 'node:assert/strict';
import { loadRules } from '../../../../src/policy/load-rules.js';
import { SecretMatcher } from '../../../../src/scan/analyzers/secrets/matcher.js';
import { Decoder, scanBytes, sniffEncoding, StreamScanner, type StreamMatch } from '../../../../src/scan/analyzers/secrets/text.js';
import { rng } from '../../../helpers/rng.js';
import { PEM_KEY, TOKEN, TOKEN2 } from './helpers.js';

const summary = (m: StreamMatch): string => `${m.rule.id}@${m.index}:${m.line}:${m.fingerprint}`;

describe('streamed secret scanning', function () {
  let matcher: SecretMatcher;
  before(async () => {
    matcher = new SecretMatcher((await loadRules()).secretRules);
  });

  it('finds the same secrets, at the same offsets and lines, however the text is cut into pieces', function () {
    const random = rng(11);
    const parts = ['lorem ipsum\n', `token ${TOKEN}\n`, `${PEM_KEY}\n`, 'x'.repeat(5000), `GH=${TOKEN2}`, '\0\0\x7fELF\n'];
    for (let run = 0; run < 40; run++) {
      const text = Array.from({ length: 200 }, () => parts[Math.floor(random() * parts.length)] as string).join('');
      const bytes = Buffer.from(text, 'latin1');
      const whole = matcher.scan(text).map((m) => `${m.rule.id}@${m.index}:${text.slice(0, m.index).split('\n').length}:${m.fingerprint}`);
      assert.ok(whole.length > 0);
      const found: string[] = [];
      // A small batch (the scanner raises it to four carries) so a run crosses many batch edges.
      const scanner = new StreamScanner(matcher, (m) => found.push(summary(m)), 1);
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + Math.floor(random() * 20_000);
        scanner.write(bytes.subarray(at, at + n));
        at += n;
      }
      scanner.end();
      assert.deepEqual(found, whole);
    }
  });

  it('decodes UTF-16 cut at odd offsets, both byte orders, with and without a mark', function () {
    const text = `note\ntoken ${TOKEN}\n`;
    for (const [bytes, encoding] of [
      [Buffer.from(`\ufeff${text}`, 'utf16le'), 'utf16le'],
      [Buffer.from(text, 'utf16le'), 'utf16le'],
      [Buffer.from(`\ufeff${text}`, 'utf16le').swap16(), 'utf16be'],
      [Buffer.from(text, 'utf16le').swap16(), 'utf16be'],
    ] as const) {
      assert.equal(sniffEncoding(bytes), encoding);
      for (const cut of [1, 3, 7, 13]) {
        const decoder = new Decoder(encoding);
        const out = Buffer.concat([decoder.write(bytes.subarray(0, cut)), decoder.write(bytes.subarray(cut))]).toString('latin1');
        assert.equal(out.replace(/^[\0]/, ''), text);
      }
    }
  });

  it('reads ELF and other binary heads as latin1', function () {
    assert.equal(sniffEncoding(Buffer.from('\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0\x01\0\0\0', 'latin1')), 'latin1');
  });

  it('stops at the deadline between slices', function () {
    const controller = new AbortController();
    controller.abort(new Error('deadline'));
    assert.throws(() => scanBytes(matcher, Buffer.alloc(3 * 1024 * 1024, 0x61), () => {}, controller.signal), /deadline/);
  });
});
