import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ImggateError } from '../errors.js';

const ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof ALGORITHMS;

export interface ParsedDigest {
  readonly algorithm: DigestAlgorithm;
  readonly hex: string;
}

/** Parses `alg:hex`; only registered algorithms with lowercase hex of the right length are accepted. */
export function parseDigest(digest: string): ParsedDigest {
  const match = /^([a-z0-9]+):([a-f0-9]+)$/.exec(digest);
  const algorithm = match?.[1];
  const hex = match?.[2];
  if (algorithm === undefined || hex === undefined || !(algorithm in ALGORITHMS)) {
    throw new ImggateError('DIGEST_INVALID', `invalid or unsupported digest "${truncate(digest)}"`);
  }
  const alg = algorithm as DigestAlgorithm;
  if (hex.length !== ALGORITHMS[alg]) {
    throw new ImggateError('DIGEST_INVALID', `digest "${truncate(digest)}" has the wrong length for ${alg}`);
  }
  return { algorithm: alg, hex };
}

export function isDigest(value: string): boolean {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

export function digestOf(data: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Throws DIGEST_MISMATCH / SIZE_MISMATCH unless `data` is exactly what the descriptor names. */
export function verifyBytes(data: Uint8Array, expected: { digest: string; size?: number }, what: string): void {
  const { algorithm } = parseDigest(expected.digest);
  if (expected.size !== undefined && data.length !== expected.size) {
    throw new ImggateError(
      'SIZE_MISMATCH',
      `${what} ${expected.digest}: expected ${expected.size} bytes, got ${data.length}`,
    );
  }
  const actual = digestOf(data, algorithm);
  if (actual !== expected.digest) {
    throw new ImggateError('DIGEST_MISMATCH', `${what} ${expected.digest}: content hashes to ${actual}`);
  }
}

/**
 * A pass-through stream that hashes and counts what flows through it and fails the stream when the
 * content is longer than expected (as soon as it is) or, at the end, shorter or with another digest.
 * Nothing downstream may act on a verdict before this stream has ended cleanly.
 */
export class DigestVerifier extends Transform {
  readonly #hash: Hash;
  readonly #expected: { digest: string; size?: number | undefined };
  readonly #what: string;
  #bytes = 0;

  constructor(expected: { digest: string; size?: number | undefined }, what: string) {
    super();
    const { algorithm } = parseDigest(expected.digest);
    this.#hash = createHash(algorithm);
    this.#expected = expected;
    this.#what = what;
  }

  get bytes(): number {
    return this.#bytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#expected.size !== undefined && this.#bytes > this.#expected.size) {
      callback(
        new ImggateError(
          'SIZE_MISMATCH',
          `${this.#what} ${this.#expected.digest}: more than the ${this.#expected.size} bytes its descriptor declares`,
        ),
      );
      return;
    }
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#expected.size !== undefined && this.#bytes !== this.#expected.size) {
      callback(
        new ImggateError(
          'SIZE_MISMATCH',
          `${this.#what} ${this.#expected.digest}: expected ${this.#expected.size} bytes, got ${this.#bytes}`,
        ),
      );
      return;
    }
    const actual = `${parseDigest(this.#expected.digest).algorithm}:${this.#hash.digest('hex')}`;
    if (actual !== this.#expected.digest) {
      callback(new ImggateError('DIGEST_MISMATCH', `${this.#what} ${this.#expected.digest}: content hashes to ${actual}`));
      return;
    }
    callback();
  }
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
