import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { check } from '../../src/check.js';
import { configSchema } from '../../src/config/schema.js';
import type { Limits } from '../../src/options.js';
import { DEFAULT_LIMITS, resolveOptions } from '../../src/options.js';
import { loadRules } from '../../src/policy/load-rules.js';
import type { Report } from '../../src/report/types.js';
import { buildImage, writeOciLayout, type LayerSpec } from '../harness/images.js';
import { rulesWithoutFeeds } from '../harness/rules.js';

/**
 * A zip in which every member's central-directory record points at the same local header and its one
 * deflate stream (the overlapping-member bomb): `members` × `size` bytes to inflate from one stream.
 */
function overlappingZip(members: number, size: number): Buffer {
  const data = deflateRawSync(Buffer.alloc(size));
  const name = (i: number): Buffer => Buffer.from(`META-INF/maven/g/a${i}/pom.properties`);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(size, 22);
  local.writeUInt16LE(name(0).length, 26);
  const head = Buffer.concat([local, name(0), data]);
  const central: Buffer[] = [];
  for (let i = 0; i < members; i++) {
    const record = Buffer.alloc(46);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE(20, 4);
    record.writeUInt16LE(20, 6);
    record.writeUInt16LE(8, 10);
    record.writeUInt32LE(data.length, 20);
    record.writeUInt32LE(size, 24);
    record.writeUInt16LE(name(i).length, 28);
    record.writeUInt32LE(0, 42);
    central.push(record, name(i));
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members, 8);
  end.writeUInt16LE(members, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(head.length, 16);
  return Buffer.concat([head, directory, end]);
}

describe('limits on what one image may make the gate build', function () {
  this.timeout(120_000);
  let work: string;
  let rulesDir: string;
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'imggate-limits-'));
    rulesDir = await rulesWithoutFeeds();
  });
  after(async () => rm(work, { recursive: true, force: true }));

  let n = 0;
  async function run(layers: LayerSpec[], limits: Partial<Limits>): Promise<Report> {
    const dir = path.join(work, `img${n++}`);
    await writeOciLayout(dir, 'x', await buildImage({ layers }));
    return check(`oci:${dir}:x`, { rules: await loadRules(rulesDir), limits, offline: true, env: {} });
  }
  const files = (prefix: string, count: number): LayerSpec['entries'] => Array.from({ length: count }, (_, i) => ({ name: `${prefix}${i}`, content: '' }));

  it('refuses a path deeper than limits.maxPathDepth, and a symlink or hard link whose target is', async function () {
    const deep = `${'d/'.repeat(40)}f`;
    const atLimit = await run([{ entries: [{ name: `${'d/'.repeat(31)}f`, content: 'x' }] }], { maxPathDepth: 32 });
    assert.notEqual(atLimit.verdict, 'error', JSON.stringify(atLimit.error));
    const over = await run([{ entries: [{ name: deep, content: 'x' }] }], { maxPathDepth: 32 });
    assert.equal(over.verdict, 'error');
    assert.equal(over.error?.code, 'LIMIT_EXCEEDED');
    assert.match(over.error?.message ?? '', /has a path more than 32 components deep \(limits\.maxPathDepth\)/);
    const link = await run([{ entries: [{ name: 'l', type: 'symlink', linkname: deep }] }], { maxPathDepth: 32 });
    assert.equal(link.error?.code, 'LIMIT_EXCEEDED');
    assert.match(link.error?.message ?? '', /symlink \/l to a path more than 32/);
    // A hard link's target is resolved as written (`..` and all): it is bounded the same way.
    const hard = await run([{ entries: [{ name: 'f', content: 'x' }, { name: 'h', type: 'hardlink', linkname: `${'d/../'.repeat(20)}f` }] }], { maxPathDepth: 32 });
    assert.equal(hard.error?.code, 'LIMIT_EXCEEDED');
    assert.match(hard.error?.message ?? '', /hard link \/h to a path more than 32/);
  });

  it('refuses a directory with more entries than limits.maxDirectoryEntries, also when layers share it', async function () {
    const one = await run([{ entries: files('d/f', 300) }], { maxDirectoryEntries: 256 });
    assert.equal(one.error?.code, 'LIMIT_EXCEEDED');
    assert.match(one.error?.message ?? '', /more than 256 entries \(limits\.maxDirectoryEntries\)/);
    // Two layers of 200 each: every layer alone fits, the directory the runtime builds does not.
    const shared = await run([{ entries: files('d/a', 200) }, { entries: files('d/b', 200) }], { maxDirectoryEntries: 256 });
    assert.equal(shared.error?.code, 'LIMIT_EXCEEDED');
    const fits = await run([{ entries: files('d/a', 200) }, { entries: files('e/b', 200) }], { maxDirectoryEntries: 256 });
    assert.notEqual(fits.verdict, 'error', JSON.stringify(fits.error));
  });

  it('refuses more entries over all layers than limits.maxEntries', async function () {
    const layers = [{ entries: files('a/', 100) }, { entries: files('b/', 100) }, { entries: files('c/', 100) }];
    const over = await run(layers, { maxEntries: 250 });
    assert.equal(over.error?.code, 'LIMIT_EXCEEDED');
    assert.match(over.error?.message ?? '', /more than 250 entries over all layers \(limits\.maxEntries\)/);
    const fits = await run(layers, { maxEntries: 300 });
    assert.notEqual(fits.verdict, 'error', JSON.stringify(fits.error));
  });

  it('stops a jar whose members share one deflate stream at limits.maxArchiveInflate, as an error', async function () {
    // 2,000 members × 4 MiB = 8 GiB to inflate from a zip of about 200 KiB.
    const bomb = overlappingZip(2000, 4 * 1024 * 1024);
    assert.ok(bomb.length < 256 * 1024, `${bomb.length} bytes`);
    const report = await run([{ entries: [{ name: 'app/bomb.jar', content: bomb }] }], { maxArchiveInflateBytes: 64 * 1024 * 1024 });
    assert.equal(report.verdict, 'error');
    assert.equal(report.error?.code, 'LIMIT_EXCEEDED');
    assert.match(report.error?.message ?? '', /\/app\/bomb\.jar: its members inflate to more than 67108864 bytes \(limits\.maxArchiveInflate\)/);
    // Under the limit, the same members are read (each pom.properties is empty of coordinates: no packages).
    const small = await run([{ entries: [{ name: 'app/ok.jar', content: overlappingZip(4, 1024) }] }], { maxArchiveInflateBytes: 64 * 1024 * 1024 });
    assert.notEqual(small.verdict, 'error', JSON.stringify(small.error));
  });

  it('reads every limit from imggate.yaml, explicit options winning', function () {
    const file = configSchema.parse({ limits: { maxPathDepth: 64, maxDirectoryEntries: 1000, maxEntries: 5000, maxArchiveInflate: '1GiB', maxHeap: '512MiB' } });
    const resolved = resolveOptions('oci:x', { config: file, env: {}, limits: { maxEntries: 7 } }).limits;
    assert.deepEqual(
      [resolved.maxPathDepth, resolved.maxDirectoryEntries, resolved.maxEntries, resolved.maxArchiveInflateBytes, resolved.maxHeapBytes],
      [64, 1000, 7, 1024 ** 3, 512 * 1024 ** 2],
    );
    assert.equal(resolveOptions('oci:x', { config: configSchema.parse({}), env: {} }).limits.maxPathDepth, DEFAULT_LIMITS.maxPathDepth);
  });
});
