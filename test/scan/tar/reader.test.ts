import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { ByteReader } from '../../../src/scan/tar/byte-reader.js';
import { parseNumeric, parsePaxRecords } from '../../../src/scan/tar/header.js';
import { readTar } from '../../../src/scan/tar/reader.js';
import { makeTar, type TestEntry } from '../../helpers/tar-writer.js';

async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function list(data: Buffer, chunk = 37): Promise<Array<{ name: string; type: string; content: string; xattrs: Map<string, Buffer>; mode: number; linkname: string }>> {
  const out = [];
  for await (const { header, body } of readTar(new ByteReader(chunked(data, chunk)))) {
    const content = (await body.read(1 << 20)).toString('utf8');
    out.push({ name: header.name, type: header.type, content, xattrs: new Map(header.xattrs), mode: header.mode, linkname: header.linkname });
  }
  return out;
}

const tarOf = (entries: TestEntry[], trailer = true): Buffer => makeTar(entries, { trailer });

describe('readTar', function () {
  it('reads files, directories, symlinks and hard links with content across chunk boundaries', async function () {
    for (const chunk of [1, 7, 512, 4096]) {
      const entries = await list(
        tarOf([
          { name: 'etc/', type: 'dir' },
          { name: 'etc/hosts', content: '127.0.0.1 localhost\n'.repeat(40) },
          { name: 'bin/sh', type: 'symlink', linkname: 'dash' },
          { name: 'bin/ash', type: 'hardlink', linkname: 'bin/sh' },
        ]),
        chunk,
      );
      assert.deepEqual(entries.map((e) => `${e.type}:${e.name}`), ['directory:etc/', 'file:etc/hosts', 'symlink:bin/sh', 'hardlink:bin/ash']);
      assert.equal(entries[1]?.content.length, 20 * 40);
    }
  });

  it('keeps PAX values whole: newlines in paths, binary xattrs with NUL and newline bytes', async function () {
    const capability = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x0a, 0x20, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
    const [entry] = await list(
      tarOf([{ name: 'short', content: 'x', pax: { path: 'usr/bin/evil\nname', 'SCHILY.xattr.security.capability': capability } }]),
    );
    assert.equal(entry?.name, 'usr/bin/evil\nname');
    assert.deepEqual(entry?.xattrs.get('security.capability'), capability);
  });

  it('reads GNU long names, and lets them win over a PAX path as Go does', async function () {
    const long = `a/${'b'.repeat(150)}/c.txt`;
    const entries = await list(tarOf([{ name: long, content: 'long', gnuLongName: true }, { name: long, content: 'both', gnuLongName: true, pax: { path: 'pax/path' } }]));
    assert.equal(entries[0]?.name, long);
    assert.equal(entries[1]?.name, long);
  });

  it('reads what node-tar writes (long names, PAX, symlinks) the same way', async function () {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-tar-'));
    try {
      const deep = path.join(dir, 'x'.repeat(60), 'y'.repeat(60));
      await mkdir(deep, { recursive: true });
      await writeFile(path.join(deep, 'z'.repeat(90)), 'deep');
      await symlink('../target', path.join(dir, 'link'));
      const file = path.join(dir, 'out.tar');
      await tar.c({ cwd: dir, file }, ['.']);
      const { readFile } = await import('node:fs/promises');
      const entries = await list(await readFile(file));
      const names = entries.map((e) => e.name.replace(/^\.\//, '').replace(/\/$/, ''));
      assert.ok(names.includes(`${'x'.repeat(60)}/${'y'.repeat(60)}/${'z'.repeat(90)}`), names.join('\n'));
      assert.equal(entries.find((e) => e.type === 'symlink')?.linkname, '../target');
      assert.equal(entries.find((e) => e.content === 'deep')?.type, 'file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('ignores the size field of header-only types, as Go does', async function () {
    const entries = await list(tarOf([{ name: 'link', type: 'symlink', linkname: 't', sizeField: 512 }, { name: 'after', content: 'seen' }]));
    assert.deepEqual(entries.map((e) => e.name), ['link', 'after']);
    assert.equal(entries[1]?.content, 'seen');
  });

  it('treats a pre-POSIX regular entry with a trailing slash as a directory', async function () {
    const data = tarOf([{ name: 'dir/', content: '' }]);
    data[156] = 0;
    let sum = 0;
    data.write('        ', 148, 'latin1');
    for (let i = 0; i < 512; i++) sum += data[i] ?? 0;
    data.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const [entry] = await list(data);
    assert.equal(entry?.type, 'directory');
  });

  it('accepts an archive that ends at a block boundary without the zero blocks', async function () {
    const entries = await list(tarOf([{ name: 'a', content: 'b' }], false));
    assert.equal(entries.length, 1);
  });

  const hostile: Array<[string, () => Buffer, RegExp]> = [
    ['a bad checksum', () => tarOf([{ name: 'a', content: 'b', badChecksum: true }]), /bad checksum/],
    ['content cut short', () => tarOf([{ name: 'a', content: 'x'.repeat(2000) }]).subarray(0, 1024), /ended .* short/],
    ['a header cut short', () => tarOf([{ name: 'a', content: 'b' }]).subarray(0, 1024 + 100), /ended .* short/],
    ['data after a zero block', () => Buffer.concat([Buffer.alloc(512), tarOf([{ name: 'a', content: 'b' }])]), /zero block .* followed by data/],
    ['a PAX record overrunning its header', () => {
      const t = tarOf([{ name: 'a', content: 'b', pax: { path: 'abc' } }]);
      t.write('99', 512, 'latin1');
      return t;
    }, /PAX record|length/],
    ['a NUL inside a PAX path', () => tarOf([{ name: 'a', content: 'b', pax: { path: 'a\0b' } }]), /contains NUL/],
    ['a sparse PAX entry', () => tarOf([{ name: 'a', content: 'b', pax: { 'GNU.sparse.major': '1' } }]), /sparse/],
  ];
  for (const [what, make, pattern] of hostile) {
    it(`refuses ${what}`, async function () {
      await assert.rejects(list(make()), (err: Error & { code?: string }) => err.code === 'TAR_INVALID' && pattern.test(err.message));
    });
  }

  it('ends cleanly at a PAX header with nothing after it, as Go does (the record applies to nothing)', async function () {
    assert.deepEqual(await list(tarOf([{ name: 'a', pax: { path: 'x' } }]).subarray(0, 1024)), []);
  });

  it('refuses an extended header above the metadata cap', async function () {
    const data = tarOf([{ name: 'a', content: 'b', pax: { comment: 'x'.repeat(4096) } }]);
    await assert.rejects(
      (async () => {
        for await (const e of readTar(new ByteReader(chunked(data, 512)), { maxMetaBytes: 1024 })) void e;
      })(),
      /exceeds 1024/,
    );
  });
});

describe('tar numeric fields', function () {
  it('reads octal with spaces and NULs, and GNU base-256', function () {
    assert.equal(parseNumeric(Buffer.from('0000644 \0'), 'mode'), 0o644);
    assert.equal(parseNumeric(Buffer.from('\0\0\0\0'), 'x'), 0);
    const big = Buffer.alloc(12);
    big[0] = 0x80;
    big.writeUIntBE(2 ** 40, 6, 6);
    assert.equal(parseNumeric(big, 'size'), 2 ** 40);
    // Go reads base-256 as two's complement: all ones is -1 (a uid of -1 leaves the owner unchanged).
    assert.equal(parseNumeric(Buffer.alloc(12, 0xff), 'uid'), -1);
    assert.throws(() => parseNumeric(Buffer.from('12389'), 'size'), /not octal/);
  });

  it('splits PAX records by length, not by line', function () {
    const records = parsePaxRecords(Buffer.from('12 path=a\nb\n8 uid=7\n'));
    assert.equal(records.get('path')?.toString(), 'a\nb');
    assert.equal(records.get('uid')?.toString(), '7');
  });
});
