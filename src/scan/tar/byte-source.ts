/** The reads `readTar` needs; a stream gives them in order, a file can also seek past content. */
export interface ByteSource {
  readonly position: number;
  readExact(n: number): Promise<Buffer | null>;
  chunks(n: number): AsyncGenerator<Buffer>;
  skip(n: number): Promise<void>;
  /** Skips up to `n` bytes, fewer when the stream ends first; how many were skipped. */
  skipAvailable(n: number): Promise<number>;
}
