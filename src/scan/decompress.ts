import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress as FzstdDecompress } from 'fzstd';
import { ImggateError } from '../errors.js';
import type { LayerCompression } from '../oci/media-types.js';
import { ZstdFrameGuard } from './zstd-guard.js';

/** zstd's own default window limit (windowLogMax 27). */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;

/** What the first bytes of a blob say it is: runtimes decompress by magic, not by media type, and so must the gate. */
export function sniffCompression(head: Buffer): LayerCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

type ZlibWithZstd = typeof zlib & { createZstdDecompress?: (options?: object) => Transform };

/** Node 22.15+ and 24 have zstd in zlib; Node 20 has not, and gets the pure-JS decoder behind the same guard. */
export function zstdDecompressor(): Transform {
  const native = (zlib as ZlibWithZstd).createZstdDecompress;
  if (typeof native === 'function') return native.call(zlib);
  return new FzstdStream();
}

class FzstdStream extends Transform {
  readonly #decoder: FzstdDecompress;
  #error: Error | undefined;

  constructor() {
    super();
    this.#decoder = new FzstdDecompress((chunk) => {
      if (chunk.length) this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.#run(() => this.#decoder.push(chunk, false), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#run(() => this.#decoder.push(new Uint8Array(0), true), callback);
  }

  #run(step: () => void, callback: TransformCallback): void {
    if (this.#error) {
      callback(this.#error);
      return;
    }
    try {
      step();
      callback();
    } catch (err) {
      this.#error = new ImggateError('LAYER_DECOMPRESS_FAILED', `zstd: ${(err as Error).message}`, { cause: err });
      callback(this.#error);
    }
  }
}

/** The decompression stages for a blob: none, gzip, or a frame guard followed by a zstd decoder. */
export function decompressors(compression: LayerCompression): Transform[] {
  switch (compression) {
    case 'none':
      return [];
    case 'gzip':
      // Larger output chunks cut the hops between the zlib thread and the parser roughly tenfold.
      return [zlib.createGunzip({ chunkSize: 256 * 1024 })];
    case 'zstd':
      return [new ZstdFrameGuard(MAX_ZSTD_WINDOW), zstdDecompressor()];
  }
}

/** Counts bytes and fails once more than `max` have passed: the bomb fuse after decompression. */
export class ByteLimit extends Transform {
  #bytes = 0;
  readonly #max: number;
  readonly #onExceed: (bytes: number) => Error;

  constructor(max: number, onExceed: (bytes: number) => Error) {
    super();
    this.#max = max;
    this.#onExceed = onExceed;
  }

  get bytes(): number {
    return this.#bytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#max) callback(this.#onExceed(this.#bytes));
    else callback(null, chunk);
  }
}
