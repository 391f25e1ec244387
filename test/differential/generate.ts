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

/**
 * A `security.capability` value of any revision (1: 12 bytes, 2: 20, 3: 24 with a namespace root id),
 * with `bits` permitted (or only inheritable), and `delta` bytes cut off or added: the kernel takes only
 * the exact revision sizes, so an odd length must make the runtime refuse the layer.
 */
export function capabilityValue(o: { revision: 1 | 2 | 3; bits: readonly number[]; effective: boolean; inheritableOnly?: boolean; rootid?: number; delta?: number }): Buffer {
  const words = o.revision === 1 ? 1 : 2;
  const v = Buffer.alloc(4 + words * 8 + (o.revision === 3 ? 4 : 0));
  v.writeUInt32LE(((o.revision << 24) | (o.effective ? 1 : 0)) >>> 0, 0);
  for (const b of o.bits) {
    const w = b >> 5;
    if (w >= words) continue;
    const at = 4 + w * 8 + (o.inheritableOnly ? 4 : 0);
    v.writeUInt32LE((v.readUInt32LE(at) | (1 << (b & 31))) >>> 0, at);
  }
  if (o.revision === 3) v.writeUInt32LE(o.rootid ?? 0, 4 + words * 8);
  const delta = o.delta ?? 0;
  return delta < 0 ? v.subarray(0, Math.max(0, v.length + delta)) : Buffer.concat([v, Buffer.alloc(delta)]);
}

const CAP = 'SCHILY.xattr.security.capability';
const capValue = fc
  .record({
    revision: fc.constantFrom(1 as const, 2 as const, 2 as const, 3 as const),
    bits: fc.subarray([0, 1, 7, 10, 13, 21, 32, 38, 39, 40]),
    effective: fc.boolean(),
    inheritableOnly: fc.boolean(),
    rootid: fc.constantFrom(0, 0, 1000, 2 ** 32 - 1),
    delta: fc.constantFrom(0, 0, 0, 0, -1, 1, 4, -20),
  })
  .map(capabilityValue);

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

/**
 * passwd texts for runc's parser (bufio.Scanner lines, TrimSpace, Atoi with errors read as 0 and
 * overflow clamped, first match wins, no comments) where a reader could differ: CRLF, comments, NIS
 * lines, duplicate and numeric names, odd numbers, Unicode spaces, NUL and non-UTF-8 bytes, lines at
 * and past the scanner's 64 KiB.
 */
const PASSWD_EDGE: Array<string | Buffer> = [
  'app:x:1000:1000::/:/bin/sh\r\nroot:x:0:0::/:/bin/sh\r\n',
  '#app:x:1000:1000::/:/bin/sh\napp:x:0:0::/:/bin/sh\n',
  '+app:x:1000:1000::/:/bin/sh\n+::0:0:::\napp:x::::/:/bin/sh\n',
  'app:x:1000:1000::/:/bin/sh\napp:x:0:0::/:/bin/sh\n',
  'app:x:abc:1000::/:/bin/sh\n',
  'app:x:-4294967296:0::/:/bin/sh\n1000:x:0:0::/:/bin/sh\n',
  'app:x:-99999999999999999999:0::/:/bin/sh\n',
  'app:x:99999999999999999999:0::/:/bin/sh\n',
  'app:x:+0:1000::/:/bin/sh\n',
  'app:x:00001000:0::/:/bin/sh\n',
  'app:x:0x3e8:0::/:/bin/sh\n',
  'app:x: 1000:1000::/:/bin/sh\n',
  '\u00a0app:x:1000:1000::/:/bin/sh\napp:x:0:0::/:/bin/sh\n',
  'app\u3000:x:1000:1000::/:/bin/sh\n',
  'app\u200b:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n',
  'app:x:1000:1000::/:/bin/sh\rroot:x:0:0::/:/bin/sh\n',
  'app\0:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n',
  Buffer.from('app\xff:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n', 'latin1'),
  `app:x:1000:1000:${'g'.repeat(65535 - 25)}:/:/bin/sh\n`,
  `app:x:1000:1000:${'g'.repeat(65535 - 25)}:/:/bin/sh\r\n`,
  `app:x:1000:1000:${'g'.repeat(65535 - 24)}:/:/bin/sh\n`,
  `app:x:1000:1000:${'\u00e9'.repeat(40000)}:/:/bin/sh\n`,
  'app:x:1000:1000::/:/bin/sh',
  '\n\n\t\napp:x:1000:1000::/:/bin/sh\n',
  'app:x:0',
  '::0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n',
];

const GROUP = ['root:x:0:\napp:x:1000:\n', 'app:x:0:\n', 'app:x:1000:\nroot:x:0:app\n'];
const GROUP_EDGE = [
  '#app:x:1000:\napp:x:0:\n',
  'app:x:abc:\n',
  'app:x:1000:app\r\nroot:x:0:app,root\r\n',
  ` root:x:0:${'m,'.repeat(40000)}app\n`,
  'app:x:-4294967296:\n',
  'app\n',
];

const USERS = ['', 'root', '0', 'app', '1000', '1000:0', '4294967296', 'app:app', '+0', 'app:root', '1000:app', ':0', 'app:'];
const USERS_EDGE = [
  '00', '-0', '+1000', ' app', 'app ', '\u00a0app', 'app\u3000', '1000:1000:1000', '0:1000', 'app:0', 'app:1000', '1000:4294967296',
  '-4294967296', '-9223372036854775808', '9223372036854775808', '2147483648', '1000:-0', 'app:abc', '#app', '+app', '1000 ', 'nobody', '',
];

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

// Hard links to a privileged file: the link's header changes the shared inode (lchown drops setuid and
// capabilities, chmod sets the mode, setxattr adds), the first name may go (whiteout, replaced, opaque
// parent) in this layer or the next; the file may be a lower layer's (only the native snapshotter links
// across layers); link names through PAX linkpath, a GNU long link, a symlinked parent, or `..` after a link.
const hardLinked: fc.Arbitrary<TestEntry[][]> = fc
  .record({
    dir: fc.constantFrom('', 'a/', 'etc/'),
    mode: fc.constantFrom(0o755, 0o4755, 0o2755, 0o644),
    linkMode: fc.constantFrom(0o755, 0o4755, 0o644, 0o6000),
    cap: fc.option(capValue, { nil: undefined }),
    linkCap: fc.option(capValue, { nil: undefined }),
    spell: fc.constantFrom('plain', 'linkpath', 'longlink', 'via-symlink', 'rooted', 'dotdot', 'rooted-dotdot'),
    after: fc.constantFrom('none', 'whiteout', 'replace', 'opaque', 'relink', 'drop-link', 'drop-link-next'),
    lower: fc.boolean(),
  })
  .map(({ dir, mode: m, linkMode, cap, linkCap, spell, after, lower }): TestEntry[][] => {
    const file: TestEntry = { name: `${dir}x`, content: 'ELF', mode: m, ...(cap ? { pax: { [CAP]: cap } } : {}) };
    const out: TestEntry[] = lower ? [] : [file];
    if (spell === 'via-symlink') out.push({ name: 'v', type: 'symlink', linkname: dir === '' ? '.' : dir });
    // A target as written, `..` after a link: containerd follows the link before the `..` (never cleans it).
    if (spell === 'dotdot' || spell === 'rooted-dotdot') out.push({ name: 'v', type: 'symlink', linkname: `${dir}e` });
    const linkname =
      spell === 'via-symlink' ? 'v/x' : spell === 'rooted' ? `/${dir}x` : spell === 'dotdot' ? 'v/../x' : spell === 'rooted-dotdot' ? '/v/../x' : `${dir}x`;
    const link: TestEntry = { name: 'b/y', type: 'hardlink', linkname: spell === 'linkpath' ? 'nowhere' : linkname, mode: linkMode, ...(linkCap ? { pax: { [CAP]: linkCap } } : {}) };
    if (spell === 'linkpath') link.pax = { ...(link.pax ?? {}), linkpath: linkname };
    if (spell === 'longlink') link.gnuLongLink = true;
    out.push(link);
    if (after === 'whiteout') out.push({ name: `${dir}.wh.x` });
    if (after === 'replace') out.push({ name: `${dir}x`, content: 'new', mode: 0o644 });
    if (after === 'opaque') out.push({ name: `${dir}.wh..wh..opq` });
    if (after === 'relink') out.push({ name: `${dir}z`, type: 'hardlink', linkname: 'b/y', mode: 0o755 });
    if (after === 'drop-link') out.push({ name: 'b/.wh.y' });
    return [...(lower ? [[file]] : []), out, ...(after === 'drop-link-next' ? [[{ name: 'b/.wh.y' }]] : [])];
  });

/** Entries that reach the shapes the first generator does not: capability encodings, PAX and GNU forms, hard links, churned directories, users. */
const more: fc.Arbitrary<TestEntry[]> = fc.oneof(
  // A capability in any encoding, on a file, a hard link (to a file of this layer or a lower one), a directory or a symlink.
  fc.record({ name: path, target: path, kind: fc.constantFrom('file', 'file', 'hardlink', 'dir', 'symlink'), value: capValue, mode: fc.constantFrom(0o755, 0o4755, 0o644), uid: fc.constantFrom(0, 1000, 2 ** 32 - 1) }).map(({ name, target, kind, value, mode: m, uid }): TestEntry[] => {
    const pax = { [CAP]: value };
    if (kind === 'hardlink') return [{ name, type: 'hardlink', linkname: target, mode: m, uid, pax }];
    if (kind === 'dir') return [{ name, type: 'dir', mode: m, pax }];
    if (kind === 'symlink') return [{ name, type: 'symlink', linkname: target, pax }];
    return [{ name, content: 'ELF', mode: m, uid, pax }];
  }),
  // The capability in places Go's reader takes differently: repeated (the last wins), in a PAX header a
  // later one replaces, under another vendor's prefix, empty, in a global header before the file.
  fc.record({ name: path, value: capValue, form: fc.constantFrom('repeat-last', 'repeat-first', 'before', 'after', 'libarchive', 'empty', 'global', 'other-xattr') }).map(({ name, value, form }): TestEntry[] => {
    const none = capabilityValue({ revision: 2, bits: [], effective: false });
    const file = { name, content: 'ELF', mode: 0o755 };
    if (form === 'repeat-last') return [{ ...file, paxRecords: [[CAP, none], [CAP, value]] }];
    if (form === 'repeat-first') return [{ ...file, paxRecords: [[CAP, value], [CAP, none]] }];
    if (form === 'before') return [{ ...file, paxBefore: { [CAP]: value }, pax: { comment: 'x' } }];
    if (form === 'after') return [{ ...file, paxBefore: { comment: 'x' }, pax: { [CAP]: value } }];
    if (form === 'libarchive') return [{ ...file, pax: { 'LIBARCHIVE.xattr.security.capability': value.toString('base64') } }];
    if (form === 'empty') return [{ ...file, paxRecords: [[CAP, value], [CAP, '']] }];
    if (form === 'global') return [{ name: 'g', type: 'global', pax: { [CAP]: value } }, file];
    return [{ ...file, pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.x': 'y', [CAP]: value } }];
  }),
  hardLinked.map((layers) => layers.flat()),
  // Hard-link targets spelled as containerd takes them, uncleaned: `..` after what may be a link, `.`,
  // doubled slashes, a trailing slash, rooted, climbing above the root.
  fc.record({
    name: path,
    target: fc.constantFrom('a/../s', 's/../a', 'bin/../etc/x', '/a/../s', 'a/b/../x', './a/x', 'a//x', 'a/./x', '../a', 'a/..', 'a/', '', '.', '/', 'etc/../../s', 'bin/../../a/x', 's/./../etc/x'),
    mode: fc.constantFrom(0o755, 0o4755),
    cap: fc.option(capValue, { nil: undefined }),
  }).map(({ name, target, mode: m, cap }) => [{ name, type: 'hardlink' as const, linkname: target, mode: m, ...(cap ? { pax: { [CAP]: cap } } : {}) }]),
  // A hard link (with a capability or setuid mode) to a name a lower layer may have made: the native
  // snapshotter links across layers, the overlay one cannot.
  fc.record({ name: path, target: fc.constantFrom('x', 'a/x', 'etc/x', 's', 'a', 'v/x'), mode: fc.constantFrom(0o755, 0o4755), cap: fc.option(capValue, { nil: undefined }) }).map(({ name, target, mode: m, cap }) => [
    { name, type: 'hardlink' as const, linkname: target, mode: m, ...(cap ? { pax: { [CAP]: cap } } : {}) },
  ]),
  // Setuid directories, and a file where one was.
  fc.record({ name: path, mode: fc.constantFrom(0o4755, 0o2775, 0o6777), file: fc.boolean() }).map(({ name, mode: m, file }): TestEntry[] => [
    { name: `${name}/`, type: 'dir', mode: m },
    ...(file ? [{ name: `${name}/f`, content: 'ELF', mode: 0o755 }] : []),
  ]),
  // passwd and group texts at the edges of runc's parser, directly or behind a symlink chain.
  fc.record({ text: fc.constantFrom(...PASSWD_EDGE), via: fc.constantFrom('direct', 'direct', 'chain', 'etc-link') }).map(({ text, via }): TestEntry[] => {
    if (via === 'chain') return [{ name: 'a/pw', content: text }, { name: 'b/pw', type: 'symlink', linkname: '../a/pw' }, { name: 'etc/passwd', type: 'symlink', linkname: '/b/pw' }];
    if (via === 'etc-link') return [{ name: 'a/passwd', content: text }, { name: 'etc', type: 'symlink', linkname: 'bin/../a' }];
    return [{ name: 'etc/passwd', content: text }];
  }),
  fc.constantFrom(...GROUP_EDGE).map((text) => [{ name: 'etc/group', content: text }]),
  // Block devices and fifos where the user files are.
  fc.constantFrom('etc/passwd', 'etc/group').chain((where) => fc.constantFrom<TestEntry[]>([{ name: where, type: 'block', devmajor: 7, devminor: 0 }], [{ name: where, type: 'dir' }])),
);

export interface GeneratedImage {
  readonly layers: TestEntry[][];
  readonly user: string;
}

const CHURN_STEPS = ['dir', 'whiteout', 'suid', 'global', 'symlink', 'cap', 'hardlink', 'sub-dir', 'sub-whiteout', 'opaque', 'opaque-parent', 'wh-link'] as const;
type ChurnStep = { step: (typeof CHURN_STEPS)[number]; through: boolean };
/** Each step at most once (twice for a file), in any order: the steps that only matter together meet often. */
const CHURN_MENU: ChurnStep[] = CHURN_STEPS.flatMap((step) => [{ step, through: false }, ...(['suid', 'cap', 'dir', 'global'].includes(step) ? [{ step, through: true }] : [])]);

/**
 * One directory churned over a few layers: made, whited out, made again as a parent, a global header at
 * its name, a symlink to it (a lower layer's is followed natively, not by overlay), privileged files
 * written into it directly or through the symlink, opaque markers of it or its parent. containerd's
 * native applier keeps at an opaque marker what is at a path the layer unpacked at (unpackedPaths, a set
 * of paths), not what the layer made.
 */
const churned: fc.Arbitrary<TestEntry[][]> = fc
  .record({
    dir: fc.constantFrom('a', 'etc', 'b/a'),
    link: fc.constantFrom('s', 'bin'),
    // A lower layer's symlink to the directory, and a last layer that whites it out (hiding overlay's copy).
    lower: fc.constantFrom(true, true, false),
    upper: fc.constantFrom(true, true, false),
    layers: fc.array(fc.shuffledSubarray(CHURN_MENU, { minLength: 2 }), { minLength: 1, maxLength: 2 }),
  })
  .map(({ dir, link, lower, upper, layers }) => {
    const slash = dir.lastIndexOf('/');
    const parent = dir.slice(0, slash + 1);
    const base = dir.slice(slash + 1);
    const made = layers.map((steps) =>
      steps.map(({ step, through }): TestEntry => {
        const at = through ? `${parent}${link}` : dir;
        if (step === 'dir') return { name: `${at}/`, type: 'dir' };
        if (step === 'whiteout') return { name: `${parent}.wh.${base}` };
        if (step === 'suid') return { name: `${at}/s`, content: 'ELF', mode: 0o4755 };
        if (step === 'cap') return { name: `${at}/q/c`, content: 'ELF', mode: 0o755, pax: { [CAP]: capability([21]) } };
        if (step === 'hardlink') return { name: `${parent}h`, type: 'hardlink', linkname: `${at}/s`, mode: 0o4755 };
        if (step === 'global') return { name: at, type: 'global', pax: { comment: 'x' } };
        if (step === 'symlink') return { name: `${parent}${link}`, type: 'symlink', linkname: base };
        if (step === 'sub-dir') return { name: `${at}/q/`, type: 'dir' };
        if (step === 'sub-whiteout') return { name: `${at}/.wh.q` };
        if (step === 'opaque') return { name: `${at}/.wh..wh..opq` };
        if (step === 'wh-link') return { name: `${parent}.wh.${link}` };
        return { name: `${parent}.wh..wh..opq` };
      }),
    );
    return [
      ...(lower ? [[{ name: `${parent}${link}`, type: 'symlink' as const, linkname: base }]] : []),
      ...made,
      ...(upper ? [[{ name: `${parent}.wh.${link}` }]] : []),
    ];
  });

export const image: fc.Arbitrary<GeneratedImage> = fc.record({
  layers: fc.oneof(
    { weight: 3, arbitrary: fc.array(fc.array(fc.oneof(entry, more), { minLength: 1, maxLength: 5 }).map((l) => l.flat()), { minLength: 1, maxLength: 3 }) },
    { weight: 1, arbitrary: churned },
    { weight: 1, arbitrary: hardLinked },
  ),
  user: fc.oneof(fc.constantFrom(...USERS), fc.constantFrom(...USERS_EDGE)),
});
