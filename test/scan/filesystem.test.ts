import assert from 'node:assert/strict';
import type { EntryInfo } from '../../src/scan/analyzer.js';
import { LayeredFilesystem } from '../../src/scan/filesystem.js';
import { normalizeEntryPath, whiteoutOf, type Whiteout } from '../../src/scan/paths.js';

function entry(path: string, layerIndex: number, type: EntryInfo['type'] = 'file', linkname = ''): EntryInfo {
  return { path, type, mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', size: 0, linkname, xattrs: new Map(), layerIndex, ordinal: 0 };
}

/** Applies layers given as lists of raw tar names, classifying whiteouts as the engine does. */
function build(layers: Array<Array<string | [string, EntryInfo['type'], string?]>>): LayeredFilesystem {
  const fs = new LayeredFilesystem();
  layers.forEach((names, layerIndex) => {
    const whiteouts: Whiteout[] = [];
    const entries: EntryInfo[] = [];
    for (const item of names) {
      const [name, type, link] = typeof item === 'string' ? [item, 'file' as const, ''] : item;
      const path = normalizeEntryPath(name);
      const w = whiteoutOf(path);
      if (w === 'ignore') continue;
      if (w) whiteouts.push(w);
      else entries.push(entry(path, layerIndex, type, link ?? ''));
    }
    fs.apply({ layerIndex, whiteouts, entries });
  });
  return fs;
}

describe('normalizeEntryPath', function () {
  const cases: Array<[string, string]> = [
    ['etc/passwd', '/etc/passwd'],
    ['./etc/passwd', '/etc/passwd'],
    ['/etc/passwd', '/etc/passwd'],
    ['../../etc/passwd', '/etc/passwd'],
    ['usr/../../etc/./shadow', '/etc/shadow'],
    ['etc/', '/etc'],
    ['./', '/'],
    ['a//b', '/a/b'],
  ];
  for (const [raw, want] of cases) it(`${JSON.stringify(raw)} → ${want}`, () => assert.equal(normalizeEntryPath(raw), want));
});

describe('whiteoutOf', function () {
  it('classifies whiteouts, opaque markers and AUFS metadata', function () {
    assert.deepEqual(whiteoutOf('/a/.wh.b'), { kind: 'delete', path: '/a/b' });
    assert.deepEqual(whiteoutOf('/a/.wh..wh..opq'), { kind: 'opaque', dir: '/a' });
    assert.equal(whiteoutOf('/.wh..wh.plnk'), 'ignore');
    assert.equal(whiteoutOf('/a/.wh.'), 'ignore');
    assert.equal(whiteoutOf('/a/b'), undefined);
    assert.equal(whiteoutOf('/a/x.wh.b'), undefined);
  });
});

describe('LayeredFilesystem', function () {
  it('a whiteout deletes a file and everything under a directory', function () {
    const fs = build([['etc/secret', 'opt/app/a', 'opt/app/b/c', 'keep'], ['etc/.wh.secret', 'opt/.wh.app']]);
    assert.equal(fs.isInFinal('/etc/secret', 0), false);
    assert.equal(fs.isInFinal('/opt/app/b/c', 0), false);
    assert.equal(fs.isInFinal('/keep', 0), true);
    assert.equal(fs.get('/opt/app'), undefined);
  });

  it('an opaque whiteout hides the lower layers but not its own layer', function () {
    const fs = build([['d/old', 'd/sub/x'], ['d/.wh..wh..opq', 'd/new']]);
    assert.equal(fs.isInFinal('/d/old', 0), false);
    assert.equal(fs.isInFinal('/d/sub/x', 0), false);
    assert.equal(fs.isInFinal('/d/new', 1), true);
  });

  it('a later layer replacing a file makes the earlier copy not final', function () {
    const fs = build([['etc/passwd'], ['etc/passwd']]);
    assert.equal(fs.isInFinal('/etc/passwd', 0), false);
    assert.equal(fs.isInFinal('/etc/passwd', 1), true);
  });

  it('a file replacing a directory removes its tree', function () {
    const fs = build([['x/y/z'], ['x']]);
    assert.equal(fs.isInFinal('/x/y/z', 0), false);
    assert.equal(fs.get('/x')?.type, 'file');
  });

  it('a directory entry over an existing directory keeps its children', function () {
    const fs = build([['x/y'], [['x', 'directory']]]);
    assert.equal(fs.isInFinal('/x/y', 0), true);
  });

  it('follows symlinked parent directories the way the runtime applies entries', function () {
    const fs = build([[['lib', 'symlink', 'usr/lib'], ['usr/lib', 'directory']], ['lib/evil.so'], ['usr/lib/.wh.evil.so']]);
    assert.equal(fs.resolvedPath('/lib/evil.so', 1), '/usr/lib/evil.so');
    assert.equal(fs.isInFinal('/lib/evil.so', 1), false, 'deleted through its real path');
    const abs = build([[['conf', 'symlink', '/etc']], ['conf/shadow']]);
    assert.equal(abs.get('/etc/shadow')?.layerIndex, 1);
    const escape = build([[['up', 'symlink', '../../../']], ['up/etc/x']]);
    assert.equal(escape.resolvedPath('/up/etc/x', 1), '/etc/x', 'a symlink cannot lead out of the root');
  });

  it('survives symlink loops', function () {
    const fs = build([[['a', 'symlink', 'b'], ['b', 'symlink', 'a']], ['a/file']]);
    assert.ok(fs.resolvedPath('/a/file', 1).endsWith('/file'));
  });
});
