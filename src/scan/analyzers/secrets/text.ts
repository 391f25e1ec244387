import { lineOf, type SecretMatch, type SecretMatcher } from './matcher.js';

export type Encoding = 'latin1' | 'utf16le' | 'utf16be';

/** Bytes sniffed to tell UTF-16 without a byte-order mark from single-byte text. */
const SNIFF_BYTES = 8000;

/**
 * The encoding to read a file's bytes in: UTF-16 by its byte-order mark, or by NULs in every other
 * byte (how ASCII looks in UTF-16 without a mark); otherwise latin1, which maps each byte to one
 * character, so NULs and binary bytes stay in place and simply match no rule.
 */
export function sniffEncoding(head: Buffer): Encoding {
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return 'utf16le';
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return 'utf16be';
  const n = Math.min(head.length, SNIFF_BYTES) & ~1;
  if (n < 8) return 'latin1';
  let evenZero = 0;
  let oddZero = 0;
  for (let i = 0; i < n; i += 2) {
    if (head[i] === 0) evenZero++;
    if (head[i + 1] === 0) oddZero++;
  }
  const pairs = n / 2;
  // ASCII text in UTF-16: one byte of each pair is NUL almost always, the other almost never.
  if (oddZero >= pairs * 0.7 && evenZero <= pairs * 0.1) return 'utf16le';
  if (evenZero >= pairs * 0.7 && oddZero <= pairs * 0.1) return 'utf16be';
  return 'latin1';
}

/** Decodes bytes incrementally (a UTF-16 code unit may be split across chunks). */
export class Decoder {
  #pending: Buffer | undefined;
  constructor(readonly encoding: Encoding) {}

  write(chunk: Buffer): string {
    if (this.encoding === 'latin1') return chunk.toString('latin1');
    let bytes = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = undefined;
    if (bytes.length % 2 === 1) {
      this.#pending = Buffer.from(bytes.subarray(bytes.length - 1));
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    if (this.encoding === 'utf16be') bytes = Buffer.from(bytes).swap16();
    return bytes.toString('utf16le');
  }
}

/** A match as the stream reports it: offsets and lines in the whole decoded text. */
export interface StreamMatch extends SecretMatch {
  readonly line: number;
}

/**
 * Scans text that arrives in pieces, of any total size, in bounded memory: pieces are batched, and
 * each batch is scanned together with the tail of the one before (as long as the longest match plus
 * margins), so a secret split across two pieces is found whole, exactly once.
 */
export class StreamScanner {
  readonly #matcher: SecretMatcher;
  readonly #report: (match: StreamMatch) => void;
  readonly #batch: number;
  #text = '';
  /** Offset, in the whole text, of `#text[0]`, and the lines before it. */
  #base = 0;
  #linesBefore = 0;
  /** Matches ending at or before this offset were reported by an earlier batch. */
  #reportedUpTo = -1;

  constructor(matcher: SecretMatcher, report: (match: StreamMatch) => void, batch = 1024 * 1024) {
    this.#matcher = matcher;
    this.#report = report;
    this.#batch = Math.max(batch, 4 * this.#carry);
  }

  get #carry(): number {
    return this.#matcher.reach + 64;
  }

  write(text: string): void {
    this.#text += text;
    if (this.#text.length >= this.#batch) this.#round(false);
  }

  end(): void {
    this.#round(true);
    this.#text = '';
  }

  #round(final: boolean): void {
    const text = this.#text;
    const cutStart = this.#base > 0;
    for (const m of this.#matcher.scan(text, undefined, { cutStart, cutEnd: !final })) {
      const end = this.#base + m.matchEnd;
      if (end <= this.#reportedUpTo) continue;
      this.#report({ ...m, index: this.#base + m.index, matchEnd: end, line: this.#linesBefore + lineOf(text, m.index) });
    }
    if (final) return;
    this.#reportedUpTo = this.#base + text.length - this.#matcher.margin;
    const keep = Math.min(text.length, this.#carry);
    const dropped = text.length - keep;
    for (let i = text.indexOf('\n'); i >= 0 && i < dropped; i = text.indexOf('\n', i + 1)) this.#linesBefore++;
    this.#base += dropped;
    this.#text = text.slice(dropped);
  }
}
