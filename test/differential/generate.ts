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
);

export interface GeneratedImage {
  readonly layers: TestEntry[][];
  readonly user: string;
}

export const image: fc.Arbitrary<GeneratedImage> = fc.record({
  layers: fc.array(fc.array(entry, { minLength: 1, maxLength: 5 }).map((l) => l.flat()), { minLength: 1, maxLength: 3 }),
  user: fc.constantFrom('', 'root', '0', 'app', '1000', '1000:0', '4294967296', 'app:app', '+0'),
});
