import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { GO_BUILDINFO_MAGIC, GoBuildInfoScanner } from '../../src/packages/go-buildinfo.js';

/** A Go 1.18+ build information block (inline strings, flags bit 2), as the linker lays it out. */
function buildInfo(modules: ReadonlyArray<[string, string]>): Buffer {
  const varint = (n: number): Buffer => {
    const out: number[] = [];
    for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
    out.push(n);
    return Buffer.from(out);
  };
  const header = Buffer.alloc(32);
  GO_BUILDINFO_MAGIC.copy(header);
  header[14] = 8;
  header[15] = 2;
  const version = Buffer.from('go1.22.4');
  const sentinel = Buffer.alloc(16, 0x30);
  const info = Buffer.concat([sentinel, Buffer.from(`path\texample.com/app\nmod\texample.com/app\t(devel)\t\n${modules.map(([n, v]) => `dep\t${n}\t${v}\th1:x=\n`).join('')}`), sentinel]);
  return Buffer.concat([header, varint(version.length), version, varint(info.length), info]);
}

describe('Go build information in a streamed binary', function () {
  const elf = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
  const block = buildInfo([['golang.org/x/net', 'v0.17.0'], ['github.com/a/b', 'v1.2.3']]);
  const before = randomBytes(5000);
  const binary = Buffer.concat([elf, before, block, randomBytes(3000)]);
  const whole = new GoBuildInfoScanner();
  whole.push(binary);
  const expected = whole.result();

  it('reads the modules from a binary given whole', function () {
    assert.deepEqual(expected, {
      goVersion: 'go1.22.4',
      main: 'example.com/app',
      modules: [
        { name: 'golang.org/x/net', version: 'v0.17.0' },
        { name: 'github.com/a/b', version: 'v1.2.3' },
      ],
    });
  });

  it('finds the same whatever the chunks, the marker cut at every offset', function () {
    const markerAt = elf.length + before.length;
    for (let cut = markerAt - 2; cut <= markerAt + GO_BUILDINFO_MAGIC.length + 1; cut++) {
      for (const size of [1, 3, 7, 4096]) {
        const scanner = new GoBuildInfoScanner();
        // Small chunks up to the cut (the first must hold the ELF magic), then the rest in one.
        scanner.push(binary.subarray(0, Math.min(cut, Math.max(4, size))));
        for (let at = Math.min(cut, Math.max(4, size)); at < cut; at += size) scanner.push(binary.subarray(at, Math.min(cut, at + size)));
        scanner.push(binary.subarray(cut));
        assert.deepEqual(scanner.result(), expected, `cut at ${cut}, chunks of ${size}`);
      }
    }
  });

  it('reads nothing from a file that is not ELF, or that has no marker', function () {
    const text = new GoBuildInfoScanner();
    text.push(Buffer.concat([Buffer.from('#!/bin/sh\n'), block]));
    assert.equal(text.result(), undefined);
    const plain = new GoBuildInfoScanner();
    plain.push(Buffer.concat([elf, randomBytes(10_000)]));
    assert.equal(plain.result(), undefined);
  });
});
