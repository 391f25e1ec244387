import type { SecretMatch, SecretMatcher } from './matcher.js';

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

/**
 * Turns a file's bytes, as they arrive, into latin1 bytes the matcher reads: latin1 as it is; UTF-16
 * one byte a code unit, a unit outside latin1 becoming NUL (every rule is ASCII, so it could never
 * be part of a match, and a unit's low byte must not pose as a letter). A code unit may be split
 * across chunks.
 */
export class Decoder {
  #pending: number | undefined;
  constructor(readonly encoding: Encoding) {}

  write(chunk: Buffer): Buffer {
    if (this.encoding === 'latin1') return chunk;
    const le = this.encoding === 'utf16le';
    const total = chunk.length + (this.#pending === undefined ? 0 : 1);
    const out = Buffer.allocUnsafe(total >> 1);
    const byte = (i: number): number => (this.#pending === undefined ? (chunk[i] as number) : i === 0 ? this.#pending : (chunk[i - 1] as number));
    for (let u = 0; u < out.length; u++) {
      const a = byte(2 * u);
      const b = byte(2 * u + 1);
      const [low, high] = le ? [a, b] : [b, a];
      out[u] = high === 0 ? low : 0;
    }
    this.#pending = total % 2 === 1 ? (chunk[chunk.length - 1] as number) : undefined;
    return out;
  }
}

/** A match as the stream reports it: offsets and lines in the whole text. */
export interface StreamMatch extends SecretMatch {
  readonly line: number;
}

/** Newlines in `bytes[from, to)`. */
function newlines(bytes: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = bytes.indexOf(0x0a, from); i >= 0 && i < to; i = bytes.indexOf(0x0a, i + 1)) n++;
  return n;
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
  #pieces: Buffer[] = [];
  #length = 0;
  /** Offset, in the whole text, of the first byte held, and the lines before it. */
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

  write(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#pieces.push(bytes);
    this.#length += bytes.length;
    if (this.#length >= this.#batch) this.#round(false);
  }

  end(): void {
    this.#round(true);
    this.#pieces = [];
  }

  #round(final: boolean): void {
    const text = this.#pieces.length === 1 ? (this.#pieces[0] as Buffer) : Buffer.concat(this.#pieces, this.#length);
    const cutStart = this.#base > 0;
    let line = this.#linesBefore + 1;
    let at = 0;
    for (const m of this.#matcher.scanLatin1(text, undefined, { cutStart, cutEnd: !final })) {
      const end = this.#base + m.matchEnd;
      if (end <= this.#reportedUpTo) continue;
      line += newlines(text, at, m.index);
      at = m.index;
      this.#report({ ...m, index: this.#base + m.index, matchEnd: end, line });
    }
    if (final) return;
    this.#reportedUpTo = this.#base + text.length - this.#matcher.margin;
    const keep = Math.min(text.length, this.#carry);
    const dropped = text.length - keep;
    this.#linesBefore += newlines(text, 0, dropped);
    this.#base += dropped;
    // A copy, so the batch itself can be freed.
    const tail = Buffer.from(text.subarray(dropped));
    this.#pieces = [tail];
    this.#length = tail.length;
  }
}

/** Bytes handed to the scanner at a time when a whole byte string is scanned. */
const SLICE_BYTES = 1024 * 1024;

/**
 * Scans one byte string whole (a file, an archive member) in its sniffed encoding, in slices, so the
 * deadline is looked at between them.
 */
export function scanBytes(matcher: SecretMatcher, bytes: Buffer, report: (match: StreamMatch) => void, signal?: AbortSignal): void {
  const decoder = new Decoder(sniffEncoding(bytes));
  const scanner = new StreamScanner(matcher, report);
  for (let at = 0; at < bytes.length; at += SLICE_BYTES) {
    signal?.throwIfAborted();
    scanner.write(decoder.write(bytes.subarray(at, at + SLICE_BYTES)));
  }
  scanner.end();
}
