import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { decompressors, sniffCompression } from '../../src/scan/decompress.js';
import { ZstdFrameGuard, ZstdFrameWalker } from '../../src/scan/zstd-guard.js';
import { zstdCompress } from '../harness/images.js';
import { run } from '../harness/process.js';

async function through(data: Buffer, stages: NodeJS.ReadWriteStream[], chunk = 1000): Promise<Buffer> {
  const out: Buffer[] = [];
  const parts = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  await pipeline(Readable.from(parts), ...(stages as [NodeJS.ReadWriteStream]), new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

describe('layer decompression', function () {
  it('sniffs gzip, zstd and plain tar by magic', function () {
    assert.equal(sniffCompression(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
    assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
    assert.equal(sniffCompression(Buffer.from('etc/')), 'none');
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
