import { Transform, type TransformCallback } from 'node:stream';
import { ImggateError } from '../errors.js';

const ZSTD_MAGIC = 0xfd2fb528;

/** A run of bytes of one frame; `frameEnd` when it completes that frame. Skippable frames are `skippable`. */
export interface FrameSegment {
  readonly bytes: Buffer;
  readonly frameEnd: boolean;
  readonly skippable: boolean;
}

/**
 * Walks the frame structure of a zstd stream (RFC 8878 §3.1) as it passes, without decompressing:
 * refuses a frame whose window is larger than `maxWindow` (a decoder allocates the window a frame
 * declares, so an unchecked header is a memory bomb whatever the data that follows), and says where
 * each frame ends, so that a decoder that stops after one frame can be given one frame at a time.
 */
export class ZstdFrameWalker {
  readonly #maxWindow: number;
  #pending: Buffer = Buffer.alloc(0);
  /** Bytes of block, checksum or skippable-frame content still to pass before the next structure. */
  #skip = 0;
  #state: 'frame' | 'block' | 'checksum' = 'frame';
  #checksum = false;
  /** The frame ends when the current skip does. */
  #endsAfterSkip = false;
  #inSkippable = false;
  /** Cut a frame at a block boundary once its blocks may decode to this many bytes (0: never). */
  readonly #cutEvery: number;
  /** What the blocks since the last cut may decode to, at most. */
  #pendingOutput = 0;
  #blockMax = 128 * 1024;

  /**
   * `cutEvery`: also cut inside a frame, at block boundaries, so that no segment decodes to much more
   * than this (an RLE block of 4 bytes decodes to 128 KiB: a 64 KiB chunk of them to 2 GiB).
   */
  constructor(maxWindow: number, cutEvery = 0) {
    this.#maxWindow = maxWindow;
    this.#cutEvery = cutEvery;
  }

  /** Walks `chunk`; returns it cut at frame ends. Throws on a malformed or oversized frame. */
  feed(chunk: Buffer): FrameSegment[] {
    const data = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = Buffer.alloc(0);
    const segments: FrameSegment[] = [];
    let start = 0;
    const cut = (end: number, frameEnd: boolean, skippable: boolean): void => {
      if (end > start || frameEnd) segments.push({ bytes: data.subarray(start, end), frameEnd, skippable });
      start = end;
    };
    let i = 0;
    for (;;) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, data.length - i);
        this.#skip -= take;
        i += take;
        if (this.#skip > 0) break;
        if (this.#endsAfterSkip) {
          cut(i, true, this.#inSkippable);
          this.#endsAfterSkip = false;
          this.#inSkippable = false;
        }
      }
      if (i >= data.length) break;
      if (this.#cutEvery > 0 && this.#state === 'block' && this.#pendingOutput >= this.#cutEvery) {
        cut(i, false, false);
        this.#pendingOutput = 0;
      }
      const next = this.#parseAt(data, i);
      if (next < 0) {
        // Keep the partial header for the next chunk; it is emitted with the bytes that complete it.
        this.#pending = Buffer.from(data.subarray(i));
        cut(i, false, this.#inSkippable);
        return segments;
      }
      if (this.#skip === 0 && this.#endsAfterSkip) {
        // An empty last block without a checksum, or an empty skippable frame: it ends with its header.
        cut(next, true, this.#inSkippable);
        this.#endsAfterSkip = false;
        this.#inSkippable = false;
      }
      i = next;
    }
    cut(data.length, false, this.#inSkippable);
    return segments;
  }

  /** Throws unless the stream ended between frames. */
  finish(): void {
    if (this.#skip > 0 || this.#pending.length > 0 || this.#state !== 'frame') {
      throw new ImggateError('LAYER_DECOMPRESS_FAILED', 'the zstd stream ends inside a frame');
    }
  }

  /** Parses one structure at `i`; returns the offset after it, or -1 when more bytes are needed. */
  #parseAt(data: Buffer, i: number): number {
    const left = data.length - i;
    if (this.#state === 'checksum') {
      this.#skip = 4;
      this.#state = 'frame';
      this.#endsAfterSkip = true;
      return i;
    }
    if (this.#state === 'block') {
      if (left < 3) return -1;
      const header = data.readUIntLE(i, 3);
      const last = (header & 1) === 1;
      const type = (header >> 1) & 3;
      const size = header >> 3;
      if (type === 3) throw new ImggateError('LAYER_DECOMPRESS_FAILED', 'zstd block of reserved type');
      if (size > 128 * 1024) throw new ImggateError('LAYER_DECOMPRESS_FAILED', 'zstd block larger than the format allows');
      this.#skip = type === 1 ? 1 : size;
      // Raw and RLE blocks decode to `size` bytes; a compressed one to at most the block maximum.
      this.#pendingOutput += type === 2 ? this.#blockMax : size;
      if (last) {
        this.#state = this.#checksum ? 'checksum' : 'frame';
        if (!this.#checksum) this.#endsAfterSkip = true;
      }
      return i + 3;
    }
    if (left < 4) return -1;
    const magic = data.readUInt32LE(i);
    if (magic >= 0x184d2a50 && magic <= 0x184d2a5f) {
      if (left < 8) return -1;
      this.#skip = data.readUInt32LE(i + 4);
      this.#endsAfterSkip = true;
      this.#inSkippable = true;
      return i + 8;
    }
    if (magic !== ZSTD_MAGIC) throw new ImggateError('LAYER_DECOMPRESS_FAILED', 'data after a zstd frame is not another frame');
    if (left < 5) return -1;
    const descriptor = data[i + 4] ?? 0;
    const fcsFlag = descriptor >> 6;
    const singleSegment = (descriptor & 0x20) !== 0;
    if (descriptor & 0x08) throw new ImggateError('LAYER_DECOMPRESS_FAILED', 'zstd frame header has its reserved bit set');
    const dictBytes = [0, 1, 2, 4][descriptor & 3] ?? 0;
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag] ?? 0;
    const headerLength = 5 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
    if (left < headerLength) return -1;
    if (dictBytes > 0 && data.readUIntLE(i + 5 + (singleSegment ? 0 : 1), dictBytes) !== 0) {
      throw new ImggateError('LAYER_COMPRESSION_UNSUPPORTED', 'zstd frame needs a dictionary, which layers never carry');
    }
    let window: number;
    if (singleSegment) {
      const at = i + 5 + dictBytes;
      window = fcsBytes === 8 ? Number(data.readBigUInt64LE(at)) : data.readUIntLE(at, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
    } else {
      const wd = data[i + 5] ?? 0;
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    }
    if (window > this.#maxWindow) {
      throw new ImggateError('LAYER_TOO_LARGE', `zstd frame declares a ${window}-byte window, over the ${this.#maxWindow}-byte limit`);
    }
    this.#blockMax = Math.min(128 * 1024, window);
    this.#checksum = (descriptor & 0x04) !== 0;
    this.#state = 'block';
    return i + headerLength;
  }
}

/** Passes a zstd stream through unchanged, refusing it as the walker does (before a pure-JS decoder). */
export class ZstdFrameGuard extends Transform {
  readonly #walker: ZstdFrameWalker;

  constructor(maxWindow: number) {
    super();
    this.#walker = new ZstdFrameWalker(maxWindow);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#walker.feed(chunk);
      callback(null, chunk);
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#walker.finish();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}
