import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress as FzstdDecompress } from 'fzstd';
import { ImggateError } from '../errors.js';
import type { LayerCompression } from '../oci/media-types.js';
import { ZstdFrameWalker } from './zstd-guard.js';

/** zstd's own default window limit (windowLogMax 27). */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;

/** What the first bytes of a blob say it is: runtimes decompress by magic, not by media type, and so must the gate. */
export function sniffCompression(head: Buffer): LayerCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  // A zstd stream may open with skippable frames (RFC 8878 §3.1.2, magic 0x184D2A5?); containerd
  // decodes such a layer, so the gate must read it as zstd too, not as a tar that fails to parse.
  if (head.length >= 4 && (head.readUInt32LE(0) & 0xfffffff0) === 0x184d2a50) return 'zstd';
  return 'none';
}

/**
 * A zstd segment is fed to the pure-JS decoder only after the output of the previous one has been
 * read: its output per segment is bounded by this (plus one block), whatever the ratio.
 */
export const ZSTD_SEGMENT_OUTPUT = 4 * 1024 * 1024;

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
  return [new FzstdStream(maxWindow)];
}

/** Decodes a zstd stream frame by frame, a fresh native decoder for each, in order, with backpressure. */
class NativeZstdFrames extends Transform {
  readonly #walker: ZstdFrameWalker;
  readonly #make: () => Transform;
  #decoder: Transform | undefined;
  #paused: Transform | undefined;

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

  override _read(size: number): void {
    const paused = this.#paused;
    this.#paused = undefined;
    paused?.resume();
    super._read(size);
  }

  #open(): Transform {
    const decoder = this.#make();
    // Back-pressure from the reader to the decoder: a bomb's output waits in neither buffer for long.
    // (The paused decoder may be one whose frame is ending: it is resumed by reference, not as #decoder.)
    decoder.on('data', (d: Buffer) => {
      if (!this.push(d)) {
        decoder.pause();
        this.#paused = decoder;
      }
    });
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

/**
 * The pure-JS decoder (Node 20), behind the frame walker that guards it. fzstd decodes every complete
 * block of what it is given at once and has no back-pressure of its own, so a bomb (RLE blocks: 4
 * bytes in, 128 KiB out) grew memory with its output. The walker cuts the stream into segments that
 * decode to at most ZSTD_SEGMENT_OUTPUT, and the next segment goes in only once the reader has taken
 * what the last one gave: memory stays bounded by the window plus a few segments.
 */
class FzstdStream extends Transform {
  readonly #decoder: FzstdDecompress;
  readonly #walker: ZstdFrameWalker;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(maxWindow: number) {
    super({ readableHighWaterMark: ZSTD_SEGMENT_OUTPUT });
    this.#walker = new ZstdFrameWalker(maxWindow, ZSTD_SEGMENT_OUTPUT);
    this.#decoder = new FzstdDecompress((chunk) => {
      if (chunk.length) this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.#feed(chunk).then(() => callback(), (err: unknown) => callback(this.#fail(err)));
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#walker.finish();
      this.#decoder.push(new Uint8Array(0), true);
      callback();
    } catch (err) {
      callback(this.#fail(err));
    }
  }

  override _read(size: number): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
    super._read(size);
  }

  async #feed(chunk: Buffer): Promise<void> {
    if (this.#error) throw this.#error;
    for (const segment of this.#walker.feed(chunk)) {
      // Skippable frames carry no image content; they are stepped over as the native path does.
      if (segment.skippable || segment.bytes.length === 0) continue;
      this.#decoder.push(segment.bytes, false);
      if (this.readableLength >= this.readableHighWaterMark) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    }
  }

  #fail(err: unknown): Error {
    this.#error ??= err instanceof ImggateError ? err : new ImggateError('LAYER_DECOMPRESS_FAILED', `zstd: ${(err as Error).message}`, { cause: err });
    return this.#error;
  }
}

/** The decompression stages for a blob: none, gzip, or a frame guard followed by a zstd decoder. */
export function decompressors(compression: LayerCompression): Transform[] {
  switch (compression) {
    case 'none':
      return [];
    case 'gzip':
      // zlib inflates the next chunk only after the check's thread has taken the last one (the hand-over
      // runs on that thread), so each hop can stall the parser: 1 MiB chunks hop a quarter as often as
      // 256 KiB ones did (in-process Debian check 1.67 -> 1.56 s; 512 KiB to 2 MiB measured alike).
      return [zlib.createGunzip({ chunkSize: 1024 * 1024 })];
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
