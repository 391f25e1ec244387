import assert from 'node:assert/strict';
import { makeTar, type TestEntry } from '../helpers/tar-writer.js';
import { missed, releaseMissed, worldWritableMissed } from './compare.js';
import { capability } from './generate.js';
import { scanImage } from './imggate.js';
import { applyWithOracle, requireOracle, runtimeWorldWritable } from './oracle.js';
import { checkGenerated } from './property.js';

/** Layer 1 of the mkparent cases: /usr/local a link, /srv/q/bin world-writable, /opt/safe/bin not. */
const mkparentBase = (local: string): TestEntry[] => [
  ...['srv/', 'srv/q/', 'opt/', 'opt/safe/', 'opt/safe/x/', 'usr/'].map((name): TestEntry => ({ name, type: 'dir' })),
  { name: 'srv/q/bin/', type: 'dir', mode: 0o777 },
  { name: 'opt/safe/bin/', type: 'dir', mode: 0o755 },
  { name: 'srv/q/b', type: 'symlink', linkname: '/opt/safe/x' },
  { name: 'usr/local', type: 'symlink', linkname: local },
];

/**
 * Hand-written classes: each image is applied by containerd's code and scanned by imggate.
 * `runtimeWritable`: the runtime's default PATH reaches a world-writable directory or file.
 */
const CASES: Array<{ name: string; layers: TestEntry[][]; user?: string; runtimeSpecial: boolean; runtimeWritable?: boolean }> = [
  { name: 'a plain setuid file', layers: [[{ name: 'x', content: 'ELF', mode: 0o4755 }]], runtimeSpecial: true },
  {
    name: 'a hard link header with 04755 makes its target setuid',
    layers: [[{ name: 'x', content: 'ELF', mode: 0o755 }, { name: 'y', type: 'hardlink', linkname: 'x', mode: 0o4755 }]],
    runtimeSpecial: true,
  },
  {
    name: 'a hard link keeps a setuid file after its first name is deleted',
    layers: [[{ name: 'x', content: 'ELF', mode: 0o4755 }, { name: 'y', type: 'hardlink', linkname: 'x', mode: 0o4755 }], [{ name: '.wh.x' }]],
    runtimeSpecial: true,
  },
  {
    name: 'an opaque marker on / does not hide lower layers in overlayfs',
    layers: [[{ name: 'keep', content: 'ELF', mode: 0o4755 }], [{ name: '.wh..wh..opq' }, { name: 'new', content: 'x' }]],
    runtimeSpecial: true,
  },
  {
    name: 'a later layer writing through a lower symlink lands in a new directory (overlay)',
    layers: [[{ name: 'lib', type: 'symlink', linkname: 'usr/lib' }, { name: 'usr/lib/', type: 'dir' }], [{ name: 'lib/evil', content: 'ELF', mode: 0o4755 }], [{ name: 'usr/lib/.wh.evil' }]],
    runtimeSpecial: true,
  },
  {
    name: 'the same path twice in one layer: the last (setuid) wins',
    layers: [[{ name: 's', content: 'a', mode: 0o755 }, { name: 's', content: 'b', mode: 0o4755 }]],
    runtimeSpecial: true,
  },
  {
    name: 'uid 2^32 is root to lchown',
    layers: [[{ name: 's', content: 'ELF', mode: 0o4755, uid: 2 ** 32, gid: 2 ** 32 }]],
    runtimeSpecial: true,
  },
  {
    name: 'cap_setuid blocks like setuid',
    layers: [[{ name: 'c', content: 'ELF', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': capability([7]) } }]],
    runtimeSpecial: true,
  },
  {
    name: 'a hard link header carrying a capability gives it to the shared inode',
    layers: [[{ name: 'x', content: 'ELF', mode: 0o755 }, { name: 'y', type: 'hardlink', linkname: 'x', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': capability([21]) } }]],
    runtimeSpecial: true,
  },
  {
    name: 'ustar prefix, STAR and GNU long names for a setuid path',
    layers: [[
      { name: 'usr/local/bin/p', content: 'ELF', mode: 0o4755, ustarPrefix: true },
      { name: 'opt/star/q', content: 'ELF', mode: 0o4755, ustarPrefix: true, magic: 'star' },
      { name: `${'d'.repeat(120)}/r`, content: 'ELF', mode: 0o4755, gnuLongName: true },
    ]],
    runtimeSpecial: true,
  },
  { name: 'no USER and no passwd: root', layers: [[{ name: 'f', content: 'x' }]], user: '', runtimeSpecial: false },
  {
    name: 'the release behind a symlink whose target a later layer replaces',
    layers: [[{ name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="12"\n' }, { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' }], [{ name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="11"\n' }]],
    runtimeSpecial: false,
  },
  {
    name: 'the release written through a lower layer’s /etc symlink (the snapshotters disagree)',
    layers: [[{ name: 'etc', type: 'symlink', linkname: 'x' }, { name: 'x/os-release', content: 'ID=debian\nVERSION_ID="12"\n' }], [{ name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="11"\n' }]],
    runtimeSpecial: false,
  },
  {
    name: 'an /etc/os-release whited out falls back to /usr/lib/os-release',
    layers: [[{ name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' }, { name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="11"\n' }], [{ name: 'etc/.wh.os-release' }]],
    runtimeSpecial: false,
  },
  {
    // Found by `npm run differential` (seed 1987124404, the widened generator): containerd places `../etc/passwd`
    // and `/etc/s` through RootPath from the root, where `etc -> a/b/..` is cleaned as text to /a; a relative
    // `etc/a` goes through the link `b` first and lands in /a/x/a.
    name: 'rooted tar names (../etc/passwd, /etc/s) under a link to a/b/.. land where containerd puts them',
    layers: [
      [
        { name: 'etc', type: 'symlink', linkname: 'a/b/..' },
        { name: 'etc/b', type: 'symlink', linkname: '/etc/x' },
        { name: 'etc/a', content: 'ELF', mode: 0o4755 },
        { name: '../etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n', mode: 0o4755 },
        { name: '/etc/s', content: 'ELF', mode: 0o2755 },
      ],
      [{ name: 'etc/group', content: 'root:x:0:\napp:x:1000:\n' }],
    ],
    user: '',
    runtimeSpecial: true,
  },
  {
    // Found by `npm run differential` (seed 750676533): a root opaque marker removes /usr natively only,
    // and /etc/os-release is a directory, which a reader that tries the next name steps past.
    name: 'an /etc/os-release directory over a /usr/lib/os-release only one snapshotter keeps',
    layers: [
      [
        { name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="11"\n' },
        { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
        { name: '.wh..wh..opq' },
        { name: 'etc/os-release/', type: 'dir' },
      ],
    ],
    user: '',
    runtimeSpecial: false,
  },
  {
    // Found by `npm run differential` (seed 1987124404): the walk to `bin/` went through `bin -> /`, and
    // the global header at `bin/bin` removes that symlink, so `bin/a` lands in a new /bin, not at /a.
    name: 'an entry that removes the symlink its own directory was reached through',
    layers: [[
      { name: 'bin', type: 'symlink', linkname: '/' },
      { name: 'bin/bin', type: 'global', pax: { comment: 'x' } },
      { name: 'bin/a', content: 'ELF', mode: 0o644, pax: { 'SCHILY.xattr.security.capability': capability([9, 21]) } },
    ]],
    user: '',
    runtimeSpecial: true,
  },
  {
    // `e -> a/b/..` is /a until `e/b` makes a/b a symlink into /etc; then `e/passwd` is /etc/passwd.
    name: 'an entry that redirects the way to its own directory replaces /etc/passwd',
    layers: [
      [{ name: 'etc/passwd', content: 'root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n' }],
      [
        { name: 'a/', type: 'dir' },
        { name: 'e', type: 'symlink', linkname: 'a/b/..' },
        { name: 'e/b', type: 'symlink', linkname: '/etc/sub' },
        { name: 'e/passwd', content: 'app:x:0:0::/:/bin/sh\n' },
      ],
    ],
    user: 'app',
    runtimeSpecial: false,
  },
  {
    // containerd's RootPath cleans `b/..` lexically, so `l` is the root even though `b` leads to /x/y; the
    // kernel's resolution (imggate's before) put this /etc/passwd at /x/etc/passwd.
    name: 'a link to b/.. where b is a link: the entries through it land where RootPath says',
    layers: [
      [{ name: 'etc/passwd', content: 'root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n' }],
      [
        { name: 'b', type: 'symlink', linkname: 'x/y' },
        { name: 'l', type: 'symlink', linkname: 'b/..' },
        { name: 'l/etc/passwd', content: 'app:x:0:0::/:/bin/sh\n' },
      ],
    ],
    user: 'app',
    runtimeSpecial: false,
  },
  {
    // Found by the widened generator (seed 1111): at the `..` of `a/b/..` RootPath finds `etc` a link
    // again and joins its target to /etc/x, not to /; the setuid file lands at /a/x/a/passwd.
    name: 'RootPath’s join of a link met at a `..` (a setuid file where only continuity puts it)',
    layers: [[
      { name: 'etc', type: 'symlink', linkname: 'a/b/..' },
      { name: 'etc/b', type: 'symlink', linkname: '/etc/x' },
      { name: './etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n', mode: 0o4755 },
    ]],
    runtimeSpecial: true,
  },
  {
    // The kernel reads /etc/passwd at /x/real/passwd (`e/..` is /x); containerd's WithUser reads it through
    // RootPath, which cleans `e/../real` to /real first, and runs app as uid 0.
    name: 'an /etc/passwd the kernel and RootPath find in different places',
    layers: [[
      { name: 'x/real/passwd', content: 'app:x:1000:1000::/:/bin/sh\n' },
      { name: 'real/passwd', content: 'app:x:0:0::/:/bin/sh\n' },
      { name: 'e', type: 'symlink', linkname: 'x/y' },
      { name: 'etc', type: 'symlink', linkname: 'e/../real' },
    ]],
    user: 'app',
    runtimeSpecial: false,
  },
  {
    name: 'a PATH entry that is a link to a world-writable directory',
    layers: [[{ name: 'a/', type: 'dir', mode: 0o777 }, { name: 'bin', type: 'symlink', linkname: '/a' }]],
    runtimeSpecial: false,
    runtimeWritable: true,
  },
  // Layer 2 lists no parents of usr/local/bin/app: containerd's overlay applier creates them in layer 2's
  // directory with the metadata of what RootPath finds at that path in layer 1 (archive/tar.go mkparent).
  {
    name: 'a parent directory containerd creates for a later layer copies a world-writable mode through a link',
    layers: [mkparentBase('/srv/q'), [{ name: 'usr/local/bin/app', content: '#!/bin/sh\n', mode: 0o755 }]],
    runtimeSpecial: false,
    runtimeWritable: true,
  },
  {
    name: 'a parent directory containerd creates copies the mode RootPath finds through a link target with .. (/srv/q/bin; the kernel finds /opt/safe/bin)',
    layers: [mkparentBase('/srv/q/b/..'), [{ name: 'usr/local/bin/app', content: '#!/bin/sh\n', mode: 0o755 }]],
    runtimeSpecial: false,
    runtimeWritable: true,
  },
  {
    // Found by hand while widening the generator (w13): containerd's native applier keeps, at an opaque
    // marker, every path in unpackedPaths, a set of paths. The global header at `p` puts /p there without
    // creating anything; `l/s` then lands in /p/s through the lower layer's `l -> p`, in a directory
    // mkparent makes, which the marker keeps. imggate's native view kept only the nodes the layer created
    // and dropped /p/s. Overlay puts s in the layer's own /l, which the last layer's whiteout hides.
    name: 'a root opaque marker natively keeps a directory made at a path the layer unpacked (a global header)',
    layers: [[{ name: 'l', type: 'symlink', linkname: 'p' }], [{ name: 'p', type: 'global', pax: { comment: 'x' } }, { name: 'l/s', content: 'ELF', mode: 0o4755 }, { name: '.wh..wh..opq' }], [{ name: '.wh.l' }]],
    runtimeSpecial: true,
  },
  {
    // The same with a directory the layer made and whited out (overlayfs refuses this layer: the whiteout
    // device cannot replace the directory; the native snapshotter applies it).
    name: 'a root opaque marker natively keeps a directory remade where the layer unpacked one and whited it out',
    layers: [[{ name: 'l', type: 'symlink', linkname: 'p' }], [{ name: 'p/', type: 'dir' }, { name: '.wh.p' }, { name: 'l/s', content: 'ELF', mode: 0o4755 }, { name: '.wh..wh..opq' }], [{ name: '.wh.l' }]],
    runtimeSpecial: true,
  },
  {
    // Found by reading containerd's hardlinkRootPath (w13): a hard link's target is split as written, never
    // cleaned, and its directory part goes through RootPath, which follows `a -> d/e` before the `..`: the
    // link's header (mode 04755) lands on /d/s. imggate cleaned the target to /s first, judged `y` a file of
    // its own, and the later whiteout of `y` left nothing it blocked. Both snapshotters ship /d/s 4755.
    name: 'a hard link to a/../s through a symlink a: the header’s setuid mode lands where RootPath leads',
    layers: [[{ name: 'd/s', content: 'ELF', mode: 0o755 }, { name: 'a', type: 'symlink', linkname: 'd/e' }, { name: 'y', type: 'hardlink', linkname: 'a/../s', mode: 0o4755 }], [{ name: '.wh.y' }]],
    runtimeSpecial: true,
  },
  {
    name: 'a hard link to /a/../s carrying cap_setuid: the capability lands where RootPath leads',
    layers: [[{ name: 'd/s', content: 'ELF', mode: 0o755 }, { name: 'a', type: 'symlink', linkname: 'd/e' }, { name: 'y', type: 'hardlink', linkname: '/a/../s', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': capability([7]) } }], [{ name: '.wh.y' }]],
    runtimeSpecial: true,
  },
  {
    // The same uncleaned target for /etc/passwd: both runtimes read /d/pw (app is uid 0); cleaned, /pw (1000).
    name: 'an /etc/passwd hard-linked to a/../pw through a symlink a is the file RootPath reaches',
    layers: [[
      { name: 'd/pw', content: 'app:x:0:0::/:/bin/sh\n' },
      { name: 'pw', content: 'app:x:1000:1000::/:/bin/sh\n' },
      { name: 'a', type: 'symlink', linkname: 'd/e' },
      { name: 'etc/passwd', type: 'hardlink', linkname: 'a/../pw' },
    ]],
    user: 'app',
    runtimeSpecial: false,
  },
];

describe('differential: imggate against the runtime oracle (containerd 1.6, runc)', function () {
  this.timeout(600_000);
  before(async function () {
    await requireOracle(this);
  });

  for (const c of CASES) {
    it(c.name, async function () {
      const blobs = c.layers.map((l) => makeTar(l));
      const user = c.user ?? '1000';
      const [{ result: oracle, looked: writable }, scanned] = await Promise.all([
        applyWithOracle(blobs, user, (work, result) => runtimeWorldWritable(work, blobs.length, result)),
        scanImage(blobs, user),
      ]);
      const findings = scanned.findings;
      assert.deepEqual(releaseMissed(oracle, scanned.os, findings), []);
      const specials = [...oracle.overlay.special, ...oracle.naive.special];
      assert.equal(specials.length > 0, c.runtimeSpecial, `the oracle's view: ${JSON.stringify(oracle)}`);
      assert.deepEqual(missed(oracle, findings), []);
      assert.equal([...(writable.overlay ?? []), ...(writable.naive ?? [])].length > 0, c.runtimeWritable ?? false, `world-writable in the runtime's PATH: ${JSON.stringify(writable)}`);
      assert.deepEqual(worldWritableMissed(writable, findings), []);
    });
  }

  it('agrees on generated images (fixed seed, bounded count; npm run differential for more)', async function () {
    await checkGenerated(Number(process.env['IMGGATE_DIFF_RUNS'] ?? 60), 20261129);
  });
});
