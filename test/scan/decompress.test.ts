import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decompressors, sniffCompression } from '../../src/scan/decompress.js';
import { ZstdFrameGuard, ZstdFrameWalker } from '../../src/scan/zstd-guard.js';
import { zstdCompress } from '../harness/images.js';
import { run } from '../harness/process.js';

/** A skippable frame (RFC 8878 §3.1.2) with magic nibble `n` and `content`. */
function skippableFrame(n: number, content: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0x184d2a50 + n, 0);
  head.writeUInt32LE(content.length, 4);
  return Buffer.concat([head, content]);
}

/**
 * A zstd bomb made by hand: one frame with a 128 KiB window and `blocks` RLE blocks, each 4 bytes that
 * decode to 128 KiB of `A`. 32 KiB of input, 1 GiB of output for 8192 blocks.
 */
function rleBomb(blocks: number): Buffer {
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (17 - 10) << 3]);
  const body = Buffer.alloc(blocks * 4);
  for (let i = 0; i < blocks; i++) {
    const last = i === blocks - 1 ? 1 : 0;
    body.writeUIntLE(((128 * 1024) << 3) | (1 << 1) | last, i * 4, 3);
    body[i * 4 + 3] = 0x41;
  }
  return Buffer.concat([header, body]);
}

async function through(data: Buffer, stages: NodeJS.ReadWriteStream[], chunk = 1000): Promise<Buffer> {
  const out: Buffer[] = [];
  const parts = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  await pipeline(Readable.from(parts), ...(stages as [NodeJS.ReadWriteStream]), new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

describe('layer decompression', function () {
  it('sniffs gzip, zstd and plain tar by magic', function () {
    const cases: Array<[Buffer, string]> = [
      [Buffer.from([0x1f, 0x8b, 8, 0]), 'gzip'],
      [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), 'zstd'],
      // A zstd stream may open with a skippable frame, magic 0x184D2A50 to 0x184D2A5F.
      [Buffer.from([0x50, 0x2a, 0x4d, 0x18]), 'zstd'],
      [Buffer.from([0x5f, 0x2a, 0x4d, 0x18]), 'zstd'],
      [Buffer.from([0x60, 0x2a, 0x4d, 0x18]), 'none'],
      [Buffer.from([0x50, 0x2a, 0x4d, 0x19]), 'none'],
      [Buffer.from('etc/'), 'none'],
    ];
    for (const [head, want] of cases) assert.equal(sniffCompression(head), want, head.toString('hex'));
  });

  it('decodes a layer that opens with skippable frames, as containerd does', async function () {
    const plain = Buffer.concat([randomBytes(100_000), Buffer.alloc(300_000, 1)]);
    const frame = await zstdCompress(plain);
    const layer = Buffer.concat([skippableFrame(0, Buffer.from('metadata')), skippableFrame(15, Buffer.alloc(0)), frame, skippableFrame(3, Buffer.from('tail'))]);
    assert.equal(sniffCompression(layer.subarray(0, 4)), 'zstd');
    for (const chunk of [1, 5, 4096, layer.length]) {
      assert.deepEqual(await through(layer, decompressors('zstd'), chunk), plain, `chunks of ${chunk}`);
    }
    // The zstd tool agrees that this is one valid stream with that content.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-zstd-'));
    try {
      await writeFile(path.join(dir, 'layer.zst'), layer);
      const r = await run('sh', ['-c', `zstd -d -q -c ${path.join(dir, 'layer.zst')} | sha256sum`]);
      const { createHash } = await import('node:crypto');
      assert.equal(r.stdout.split(' ')[0], createHash('sha256').update(plain).digest('hex'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('decodes a zstd bomb with memory bounded, not growing with its output (child process RSS)', async function () {
    this.timeout(170_000);
    // 1 GiB of output from 32 KiB given as ONE chunk: the decoder must not hold what the reader has not taken.
    const here = path.dirname(fileURLToPath(import.meta.url));
    const module = path.join(here, '../../src/scan/decompress.js');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-bomb-'));
    try {
      await writeFile(path.join(dir, 'bomb.zst'), rleBomb(8192));
      const script = `
        import { readFileSync } from 'node:fs';
        import { Readable, Writable } from 'node:stream';
        import { pipeline } from 'node:stream/promises';
        import { decompressors } from ${JSON.stringify(module)};
        const bomb = readFileSync(${JSON.stringify(path.join(dir, 'bomb.zst'))});
        let bytes = 0, peak = 0, n = 0;
        const sink = new Writable({ highWaterMark: 1 << 20, write(chunk, _e, cb) {
          bytes += chunk.length;
          if ((n++ & 63) === 0) peak = Math.max(peak, process.memoryUsage().rss);
          setImmediate(cb);
        } });
        await pipeline(Readable.from([bomb]), ...decompressors('zstd'), sink);
        peak = Math.max(peak, process.memoryUsage().rss);
        process.stdout.write(JSON.stringify({ bytes, peak }));
      `;
      await writeFile(path.join(dir, 'child.mjs'), script);
      const r = await run(process.execPath, ['--max-old-space-size=256', path.join(dir, 'child.mjs')]);
      assert.equal(r.code, 0, r.stderr);
      const { bytes, peak } = JSON.parse(r.stdout) as { bytes: number; peak: number };
      assert.equal(bytes, 1024 ** 3, 'every byte of the output was produced');
      assert.ok(peak < 400 * 1024 * 1024, `peak RSS ${Math.round(peak / 1048576)} MiB for 1024 MiB of output`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('decodes what the zstd tool writes, across chunkings, multi-frame too', async function () {
    const plain = Buffer.concat([randomBytes(300_000), Buffer.alloc(700_000, 7)]);
    const one = await zstdCompress(plain);
    const two = Buffer.concat([one, await zstdCompress(Buffer.from('tail'))]);
    for (const chunk of [1, 333, 65536]) {
      assert.deepEqual(await through(one, decompressors('zstd'), chunk), plain);
    }
    assert.deepEqual(await through(two, decompressors('zstd')), Buffer.concat([plain, Buffer.from('tail')]));
  });

  it('cuts a zstd stream at frame ends, skippable frames marked, whatever the chunking', async function () {
    // Node's own zstd decoder stops after one frame; the walker tells where each ends so none is lost.
    const a = await zstdCompress(randomBytes(200_000));
    const b = await zstdCompress(Buffer.from('second frame'));
    const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18]), Buffer.from([3, 0, 0, 0]), Buffer.from('abc')]);
    const c = await zstdCompress(Buffer.alloc(0));
    const stream = Buffer.concat([a, skippable, b, c]);
    for (const size of [1, 7, 4096, stream.length]) {
      const walker = new ZstdFrameWalker(128 * 1024 * 1024);
      const frames: Array<{ length: number; skippable: boolean }> = [];
      let current = 0;
      for (let i = 0; i < stream.length; i += size) {
        for (const seg of walker.feed(stream.subarray(i, i + size))) {
          current += seg.bytes.length;
          if (seg.frameEnd) {
            frames.push({ length: current, skippable: seg.skippable });
            current = 0;
          }
        }
      }
      walker.finish();
      assert.deepEqual(frames, [
        { length: a.length, skippable: false },
        { length: skippable.length, skippable: true },
        { length: b.length, skippable: false },
        { length: c.length, skippable: false },
      ], `chunks of ${size}`);
    }
  });

  it('refuses a zstd frame that declares a window over the limit, before decoding', async function () {
    // --long=31 asks for a 2 GiB window, which the frame header declares.
    const r = await run('sh', ['-c', 'head -c 100000 /dev/zero | zstd -q -c --long=31 | base64 -w0']);
    const big = Buffer.from(r.stdout, 'base64');
    await assert.rejects(through(big, [new ZstdFrameGuard(128 * 1024 * 1024)]), /window/);
  });

  it('refuses garbage after a zstd frame and a frame cut short', async function () {
    const frame = await zstdCompress(Buffer.from('hello world'));
    await assert.rejects(through(Buffer.concat([frame, Buffer.from('garbage!')]), [new ZstdFrameGuard(1 << 27)]), /not another frame/);
    await assert.rejects(through(frame.subarray(0, frame.length - 3), [new ZstdFrameGuard(1 << 27)]), /ends inside a frame/);
  });
});
