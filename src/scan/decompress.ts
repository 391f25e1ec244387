import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress as FzstdDecompress } from 'fzstd';
import { ImggateError } from '../errors.js';
import type { LayerCompression } from '../oci/media-types.js';
import { ZstdFrameGuard, ZstdFrameWalker } from './zstd-guard.js';

/** zstd's own default window limit (windowLogMax 27). */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;

/** What the first bytes of a blob say it is: runtimes decompress by magic, not by media type, and so must the gate. */
export function sniffCompression(head: Buffer): LayerCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

type ZlibWithZstd = typeof zlib & { createZstdDecompress?: (options?: object) => Transform };

/**
 * The zstd decoding stages. Node 22.15+ and 24 have zstd in zlib, but its decoder stops after the
 * first frame and drops the rest of a multi-frame stream without a word (seen on 22.23.3 and 24.21.0),
 * so frames are cut apart by the walker and each gets its own decoder. Node 20 has no zstd in zlib and
 * gets the pure-JS decoder, which reads every frame, behind the same walker as a guard.
 */
export function zstdDecompressors(maxWindow: number = MAX_ZSTD_WINDOW): Transform[] {
  const native = (zlib as ZlibWithZstd).createZstdDecompress;
  if (typeof native === 'function') return [new NativeZstdFrames(maxWindow, () => native.call(zlib))];
  return [new ZstdFrameGuard(maxWindow), new FzstdStream()];
}

/** Decodes a zstd stream frame by frame, a fresh native decoder for each, in order, with backpressure. */
class NativeZstdFrames extends Transform {
  readonly #walker: ZstdFrameWalker;
  readonly #make: () => Transform;
  #decoder: Transform | undefined;

  constructor(maxWindow: number, make: () => Transform) {
    super();
    this.#walker = new ZstdFrameWalker(maxWindow);
    this.#make = make;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.#feed(chunk).then(() => callback(), (err: unknown) => callback(asDecompressError(err)));
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#walker.finish();
    } catch (err) {
      callback(err as Error);
      return;
    }
    // A stream that ends between frames has no decoder open.
    callback();
  }

  async #feed(chunk: Buffer): Promise<void> {
    for (const segment of this.#walker.feed(chunk)) {
      if (segment.skippable) continue;
      const decoder = (this.#decoder ??= this.#open());
      if (segment.bytes.length && !decoder.write(segment.bytes)) await waitFor(decoder, 'drain');
      if (segment.frameEnd) {
        this.#decoder = undefined;
        const ended = waitFor(decoder, 'end');
        decoder.end();
        await ended;
      }
    }
  }

  #open(): Transform {
    const decoder = this.#make();
    decoder.on('data', (d: Buffer) => this.push(d));
    return decoder;
  }
}

function waitFor(stream: Transform, event: 'drain' | 'end'): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      stream.off(event, onEvent);
      reject(err);
    };
    const onEvent = (): void => {
      stream.off('error', onError);
      resolve();
    };
    stream.once(event, onEvent);
    stream.once('error', onError);
  });
}

function asDecompressError(err: unknown): Error {
  if (err instanceof ImggateError) return err;
  return new ImggateError('LAYER_DECOMPRESS_FAILED', `zstd: ${(err as Error).message}`, { cause: err });
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
      return zstdDecompressors();
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
