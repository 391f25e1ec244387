import fc from 'fast-check';
import type { TestEntry } from '../helpers/tar-writer.js';

/** A capability set (struct vfs_cap_data rev 2) with these permitted bits, effective. */
export function capability(bits: readonly number[]): Buffer {
  const v = Buffer.alloc(20);
  v.writeUInt32LE(0x02000001, 0);
  let lo = 0;
  for (const b of bits) lo |= 1 << b;
  v.writeUInt32LE(lo >>> 0, 4);
  return v;
}

const NAMES = ['a', 'b', 's', 'etc', 'bin'];
const path = fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }).map((p) => p.join('/'));
const mode = fc.constantFrom(0o644, 0o755, 0o4755, 0o2755, 0o6755, 0o4000);
const id = fc.constantFrom(0, 1000, 2 ** 32, 2 ** 32 + 1000, 65534);
const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n',
  'app:x:0:0::/:/bin/sh\nroot:x:0:0::/:/bin/sh\n',
  ' app :x: 1000 :1000::/:/bin/sh\n',
  'app:x:4294967296:0::/:/bin/sh\n',
  'app:x:1000\n',
];

const GROUP = ['root:x:0:\napp:x:1000:\n', 'app:x:0:\n', 'app:x:1000:\nroot:x:0:app\n'];

const RELEASES = ['ID=debian\nVERSION_ID="11"\n', 'ID=debian\nVERSION_ID="12"\n', 'ID=alpine\nVERSION_ID=3.21.2\n', 'ID="debian"\nVERSION_ID=12\nID=alpine\n'];

/** One hostile tar entry, or a few that go together. */
const entry: fc.Arbitrary<TestEntry[]> = fc.oneof(
  fc.record({ name: path, mode, uid: id, gid: id, cap: fc.constantFrom(undefined, [7], [13], [21, 1]) }).map(({ name, mode: m, uid, gid, cap }) => [
    { name, content: 'ELF', mode: m, uid, gid, ...(cap ? { pax: { 'SCHILY.xattr.security.capability': capability(cap) } } : {}) },
  ]),
  fc.record({ name: path, mode: fc.constantFrom(0o755, 0o777) }).map(({ name, mode: m }) => [{ name, type: 'dir' as const, mode: m }]),
  fc.record({ name: path, target: fc.constantFrom('a', '/a', '../a', 'a/b', '.', '/', '../../etc', 'bin', '/s') }).map(({ name, target }) => [
    { name, type: 'symlink' as const, linkname: target },
  ]),
  fc.record({ name: path, target: path, mode, uid: id }).map(({ name, target, mode: m, uid }) => [{ name, type: 'hardlink' as const, linkname: target, mode: m, uid }]),
  path.map((p) => {
    const parts = p.split('/');
    parts[parts.length - 1] = `.wh.${parts[parts.length - 1] as string}`;
    return [{ name: parts.join('/') }];
  }),
  fc.constantFrom('', 'a/', 'etc/', 'bin/').map((d) => [{ name: `${d}.wh..wh..opq` }]),
  path.map((p) => [{ name: p, type: 'global' as const, pax: { comment: 'x' } }]),
  // The release: in /etc or /usr/lib, directly or through a symlink a lower or the same layer made.
  fc.record({ text: fc.constantFrom(...RELEASES), where: fc.constantFrom('etc/os-release', 'usr/lib/os-release'), link: fc.constantFrom(undefined, '../usr/lib/os-release', '/usr/lib/os-release', 'os-release.d/x') }).map(({ text, where, link }) =>
    link && where === 'etc/os-release'
      ? [{ name: 'usr/lib/os-release', content: text }, { name: 'etc/os-release', type: 'symlink' as const, linkname: link }]
      : [{ name: where, content: text }],
  ),
  fc.constantFrom('etc/.wh.os-release', 'usr/lib/.wh.os-release', 'etc/os-release/').map((name) => (name.endsWith('/') ? [{ name, type: 'dir' as const }] : [{ name }])),
  fc.record({ text: fc.constantFrom(...PASSWD), via: fc.boolean() }).map(({ text, via }) =>
    via ? [{ name: 'a/passwd', content: text }, { name: 'etc', type: 'symlink' as const, linkname: 'a' }] : [{ name: 'etc/passwd', content: text }],
  ),
  // Symlinks whose targets take `.` and `..` after a link (resolved after the link is followed, unlike
  // the lexical `..` of a tar name), and names that a later entry of the same layer redirects.
  fc.record({ name: path, target: fc.constantFrom('a/b/..', 'a/../etc', './etc', 'etc/.', 's/..', '../../a/..', 'bin/../etc', '/etc/x/..', 'a/./b') }).map(({ name, target }) => [
    { name, type: 'symlink' as const, linkname: target },
  ]),
  // Tar names with `.`, `..`, a leading `/` or `./` (containerd cleans them lexically before resolving).
  fc.record({ name: fc.constantFrom('./etc/passwd', 'a/../etc/passwd', '/etc/./passwd', '../etc/passwd', 'etc//passwd', 'bin/../etc/os-release', './usr/lib/./os-release', 'a/../etc/.wh.os-release', './etc/.wh.passwd', 'a/../s'), text: fc.constantFrom(PASSWD[0] as string, PASSWD[1] as string, RELEASES[0] as string) }).map(({ name, text }) =>
    name.includes('.wh.') ? [{ name }] : [{ name, content: text, mode: 0o4755 }],
  ),
  // The files the gate reads, as what is not a plain non-empty file: empty, huge, hard links to a file
  // (of this layer or a lower one), char devices (0:0 is a whiteout to overlayfs, 1:3 reads as empty).
  fc.constantFrom('etc/os-release', 'usr/lib/os-release', 'etc/passwd', 'etc/group').chain((where) =>
    fc.oneof(
      fc.constant([{ name: where, content: '' }]),
      fc.constant([{ name: where, type: 'char' as const, devmajor: 0, devminor: 0 }]),
      fc.constant([{ name: where, type: 'char' as const, devmajor: 1, devminor: 3 }]),
      fc.constantFrom('a', 's', 'usr/lib/os-release', 'etc/passwd').map((target) => [{ name: where, type: 'hardlink' as const, linkname: target }]),
      fc.record({ target: fc.constantFrom('a', 'b/x'), text: fc.constantFrom(...(where.endsWith('release') ? RELEASES : [...PASSWD, ...GROUP])) }).map(({ target, text }) => [
        { name: target, content: text },
        { name: where, type: 'hardlink' as const, linkname: target },
      ]),
    ),
  ),
  // Releases a reader may take differently: CRLF, no ID, an ID os-release(5) refuses, quoting, comments,
  // one past the bytes the gate reads (rare: it is a megabyte).
  fc.record({
    where: fc.constantFrom('etc/os-release', 'usr/lib/os-release'),
    text: fc.constantFrom('ID=debian\r\nVERSION_ID="12"\r\n', 'VERSION_ID="12"\n', 'ID=Debian\nVERSION_ID=12\n', "ID='alpine'\nVERSION_ID='3.21.2'\n", '#ID=alpine\nID=debian\nVERSION_ID="11"\n', ' ID=debian\n VERSION_ID=11\n', 'ID="debian\nVERSION_ID=12\n', `# ${'x'.repeat(1 << 20)}\nID=debian\nVERSION_ID="12"\n`),
  }).map(({ where, text }) => [{ name: where, content: text }]),
  fc.constantFrom(...GROUP).map((text) => [{ name: 'etc/group', content: text }]),
  // Whiteouts and opaque markers of the directories that hold those files.
  fc.constantFrom('.wh.etc', '.wh.usr', 'usr/.wh.lib', 'usr/.wh..wh..opq', 'usr/lib/.wh..wh..opq', 'etc/.wh.passwd', 'etc/.wh.group').map((name) => [{ name }]),
  // Fifos and devices elsewhere. A fifo is named `p`, which no link of the generator leads to: one the
  // oracle opened as /etc/passwd would block it.
  fc.record({ name: path, kind: fc.constantFrom('fifo', 'char') }).map(({ name, kind }) =>
    kind === 'fifo' ? [{ name: `${name}/p`, type: 'fifo' as const, mode: 0o4755 }] : [{ name, type: 'char' as const, devmajor: 0, devminor: 0 }],
  ),
  fc.record({ name: path }).map(({ name }) => [{ name, content: '', mode: 0o4755 }]),
  // World-writable directories and files where a runtime's default PATH may reach them, and entries deep
  // below such places, whose parents a later layer's applier creates with a lower layer's mode (mkparent).
  fc.record({ name: fc.constantFrom('bin', 'usr/local/bin', 'usr/bin', 'a', 'a/bin', 's/b', 'usr/local'), kind: fc.constantFrom('dir', 'file', 'deep') }).map(({ name, kind }): TestEntry[] =>
    kind === 'dir' ? [{ name: `${name}/`, type: 'dir', mode: 0o777 }] : kind === 'file' ? [{ name: `${name}/w`, content: 'x', mode: 0o666 }] : [{ name: `${name}/x/y`, content: 'x' }],
  ),
  fc.record({ name: fc.constantFrom('usr/local', 'usr', 'bin'), target: fc.constantFrom('/a', 'a', '/s/b/..', '../a', '/a/bin/..', 'usr/local/bin/..') }).map(({ name, target }) => [
    { name, type: 'symlink' as const, linkname: target },
  ]),
  // A run of entries in one directory reached through a symlink, one of which may change that way (it
  // replaces a component the link passes, or the link itself): their siblings must land where the runtime's
  // walk, made anew for each entry, leads.
  fc.record({
    link: fc.constantFrom('bin', 'e', 'etc'),
    target: fc.constantFrom('/', '.', 'a/b/..', '/etc/x/..', 'etc', 'a'),
    items: fc.array(
      fc.record({ name: fc.constantFrom('a', 'b', 'bin', 'e', 'etc', 'x', 'passwd', 'os-release'), kind: fc.constantFrom('file', 'dir', 'global', 'link-etc', 'link-root', 'passwd', 'release') }),
      { minLength: 1, maxLength: 4 },
    ),
  }).map(({ link, target, items }) => [
    { name: link, type: 'symlink' as const, linkname: target },
    ...items.map(({ name, kind }): TestEntry => {
      const at = `${link}/${name}`;
      if (kind === 'dir') return { name: `${at}/`, type: 'dir' };
      if (kind === 'global') return { name: at, type: 'global', pax: { comment: 'x' } };
      if (kind === 'link-etc') return { name: at, type: 'symlink', linkname: '/etc/x' };
      if (kind === 'link-root') return { name: at, type: 'symlink', linkname: '/' };
      if (kind === 'passwd') return { name: at, content: PASSWD[1] as string };
      if (kind === 'release') return { name: at, content: RELEASES[2] as string };
      return { name: at, content: 'ELF', mode: 0o4755 };
    }),
  ]),
);

export interface GeneratedImage {
  readonly layers: TestEntry[][];
  readonly user: string;
}

export const image: fc.Arbitrary<GeneratedImage> = fc.record({
  layers: fc.array(fc.array(entry, { minLength: 1, maxLength: 5 }).map((l) => l.flat()), { minLength: 1, maxLength: 3 }),
  user: fc.constantFrom('', 'root', '0', 'app', '1000', '1000:0', '4294967296', 'app:app', '+0', 'app:root', '1000:app', ':0', 'app:'),
});
