import { ImggateError } from '../../errors.js';
import type { ByteSource } from './byte-source.js';

const EMPTY = Buffer.alloc(0);

/** Pull-style reads of exact byte counts over an async stream of chunks, copying only when a read spans chunks. */
export class ByteReader implements ByteSource {
  readonly #chunks: AsyncIterator<Buffer>;
  #current: Buffer = EMPTY;
  #done = false;
  #position = 0;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    const iterator = source[Symbol.asyncIterator]();
    this.#chunks = {
      next: async () => {
        const r = await iterator.next();
        return r.done ? r : { done: false, value: Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value) };
      },
      return: async () => {
        await iterator.return?.();
        return { done: true, value: undefined };
      },
    };
  }

  /** Bytes consumed so far. */
  get position(): number {
    return this.#position;
  }

  async #fill(): Promise<boolean> {
    while (this.#current.length === 0) {
      if (this.#done) return false;
      const r = await this.#chunks.next();
      if (r.done) {
        this.#done = true;
        return false;
      }
      this.#current = r.value;
    }
    return true;
  }

  /** Exactly `n` bytes; `null` when the stream ended before the first byte; an error when it ended inside. */
  async readExact(n: number): Promise<Buffer | null> {
    if (!(await this.#fill())) return n === 0 ? EMPTY : null;
    if (this.#current.length >= n) {
      const out = this.#current.subarray(0, n);
      this.#current = this.#current.subarray(n);
      this.#position += n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      if (!(await this.#fill())) {
        throw new ImggateError('TAR_INVALID', `the tar stream ended ${n - filled} bytes short at offset ${this.#position}`);
      }
      const take = Math.min(n - filled, this.#current.length);
      this.#current.copy(out, filled, 0, take);
      this.#current = this.#current.subarray(take);
      filled += take;
      this.#position += take;
    }
    return out;
  }

  /** Yields up to `n` bytes as they arrive, without gathering them. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!(await this.#fill())) {
        throw new ImggateError('TAR_INVALID', `the tar stream ended ${left} bytes short at offset ${this.#position}`);
      }
      const take = Math.min(left, this.#current.length);
      const out = this.#current.subarray(0, take);
      this.#current = this.#current.subarray(take);
      left -= take;
      this.#position += take;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const chunk of this.chunks(n)) void chunk;
  }

  async skipAvailable(n: number): Promise<number> {
    let left = n;
    while (left > 0 && (await this.#fill())) {
      const take = Math.min(left, this.#current.length);
      this.#current = this.#current.subarray(take);
      this.#position += take;
      left -= take;
    }
    return n - left;
  }

  /** Reads and discards everything left, returning how many bytes that was. */
  async drain(): Promise<number> {
    let total = 0;
    while (await this.#fill()) {
      total += this.#current.length;
      this.#position += this.#current.length;
      this.#current = EMPTY;
    }
    return total;
  }
}
