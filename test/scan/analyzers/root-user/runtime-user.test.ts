import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { containerdUser, goAtoi, runcUser, type RuntimeUser, type UserFiles } from '../../../../src/scan/analyzers/root-user/runtime-user.js';
import { makeTar } from '../../../helpers/tar-writer.js';
import { CACHE_DIR } from '../../../harness/debian.js';
import { run } from '../../../harness/process.js';
import { diffRuns, rng } from '../../../helpers/rng.js';

const files = (passwd?: string, group?: string): UserFiles => ({ passwd, group });
const fmt = (r: RuntimeUser): string => (r.error !== undefined ? 'error' : `${r.uid}:${r.gid}`);

describe('USER as the runtimes resolve it', function () {
  it('reads numbers as Go strconv.Atoi does', function () {
    assert.deepEqual(goAtoi('+0'), { value: 0n, ok: true });
    assert.deepEqual(goAtoi('-1'), { value: -1n, ok: true });
    assert.deepEqual(goAtoi('007'), { value: 7n, ok: true });
    assert.deepEqual(goAtoi(' 1'), { value: 0n, ok: false });
    assert.deepEqual(goAtoi(''), { value: 0n, ok: false });
    assert.deepEqual(goAtoi('99999999999999999999'), { value: (1n << 63n) - 1n, ok: false });
  });

  // [USER, passwd, group, runc, containerd]
  const cases: Array<[string, string | undefined, string | undefined, string, string]> = [
    ['', undefined, undefined, '0:0', '0:0'],
    ['nobody', 'nobody:x:65534:65534::/:/bin/false\n', undefined, '65534:65534', '65534:65534'],
    // A bad number field reads as 0; the first matching line wins even when a later one is fine.
    ['nobody', 'nobody:x:abc:1\nnobody:x:65534:65534\n', undefined, '0:1', '0:1'],
    // A line with no fields but the name is a user with uid 0.
    ['app', 'app\n', undefined, '0:0', '0:0'],
    // White space around a line is trimmed; CRLF too.
    ['app', '  app:x:1000:1000\r\n', undefined, '1000:1000', '1000:1000'],
    // '#' is no comment in passwd: the line is a user named "#app".
    ['#app', '#app:x:0:0\n', undefined, '0:0', '0:0'],
    // '+0' is a number to Go, so uid 0.
    ['+0', 'root:x:0:0\n', undefined, '0:0', '0:0'],
    // A uid above 32 bits in passwd: the kernel gets its low 32 bits.
    ['big', 'big:x:4294967296:5\n', undefined, '0:5', '0:5'],
    // Out of containerd's range: looked up by name; runc: out of range.
    ['4294967296', undefined, undefined, 'error', 'error'],
    ['1000', undefined, undefined, '1000:0', '1000:0'],
    ['1000:1000:extra', undefined, undefined, '1000:1000', 'error'],
    ['ghost', 'root:x:0:0\n', undefined, 'error', 'error'],
    ['1000:wheel', 'root:x:0:0\n', 'wheel:x:10:\n', '1000:10', '1000:10'],
    ['1000:wheel', 'root:x:0:0\n', '#wheel:x:10:\n', 'error', 'error'],
    ['app', `app:x:1000:1000\n${'x'.repeat(70_000)}\n`, undefined, 'error', 'error'],
  ];
  it('gives `USER name` the groups /etc/group lists it in as supplementary groups, as runc does (not `name:group`)', function () {
    const passwd = 'root:x:0:0\napp:x:1000:1000\n';
    const group = 'root:x:0:app\nwheel:x:10:bob,app\nadm:x:4:application\n';
    assert.deepEqual(runcUser('app', files(passwd, group)), { uid: 1000, gid: 1000, sgids: [0, 10] });
    assert.deepEqual(runcUser('app:1000', files(passwd, group)), { uid: 1000, gid: 1000 });
    assert.deepEqual(runcUser('1000', files(passwd, group)), { uid: 1000, gid: 1000, sgids: [0, 10] }, 'a uid that matches a passwd line is that user');
  });

  for (const [user, passwd, group, runc, ctrd] of cases) {
    it(`USER ${JSON.stringify(user)} with passwd ${JSON.stringify((passwd ?? '(none)').slice(0, 40))}: runc ${runc}, containerd ${ctrd}`, function () {
      assert.equal(fmt(runcUser(user, files(passwd, group))), runc);
      assert.equal(fmt(containerdUser(user, files(passwd, group))), ctrd);
    });
  }
});

/** The runtime oracle (../shared/runtime-oracle): runc's parser and containerd's number handling, compiled. */
function findOracle(): string | undefined {
  const candidates = [process.env['IMGGATE_RUNTIME_ORACLE'], path.join(CACHE_DIR, 'runtime-oracle', 'runtime-oracle'), '/var/tmp/runtime-oracle/runtime-oracle'];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

describe('USER resolution vs runc and containerd code @differential', function () {
  this.timeout(600_000);
  let oracle: string | undefined;
  before(function () {
    oracle = findOracle();
    if (!oracle || process.getuid?.() !== 0) {
      if (process.env['IMGGATE_REQUIRE_ORACLE'] === '1') throw new Error('the runtime oracle is required (IMGGATE_REQUIRE_ORACLE=1) but was not found');
      this.skip();
    }
  });

  const { runs, seed } = diffRuns(250);

  it(`agrees on ${runs} generated passwd/group/USER combinations (seed ${seed})`, async function () {
    const r = rng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
    const names = ['app', 'nobody', 'root', '#app', ' app', 'app ', 'ſ', '+0', '0', '1000'];
    const numbers = ['0', '1000', '65534', '+0', '-0', '007', 'abc', '', ' 5', '4294967296', '4294967295', '2147483648', '-1', '99999999999999999999'];
    const line = (): string => {
      const shape = Math.floor(r() * 6);
      const name = pick(names);
      if (shape === 0) return name;
      if (shape === 1) return `${name}:x:${pick(numbers)}`;
      if (shape === 2) return `  ${name}:x:${pick(numbers)}:${pick(numbers)}:g:/h:/s  `;
      if (shape === 3) return `${name}:x:${pick(numbers)}:${pick(numbers)}\r`;
      if (shape === 4) return '';
      return `${name}:x:${pick(numbers)}:${pick(numbers)}:gecos:/home:/bin/sh:extra`;
    };
    const groupLine = (): string => `${pick(['#', '', ' '])}${pick(['wheel', 'app', 'staff'])}:x:${pick(numbers)}:${pick(['', 'app', 'app,nobody'])}`;
    const users = ['', ...names, 'ghost', '1000:wheel', 'app:staff', '0:0', '1000:1000:x', ':', '4294967296', '2147483648', 'app:', ':wheel', '-1', '+1000'];
    const work = await mkdtemp(path.join(os.tmpdir(), 'imggate-user-diff-'));
    const mismatches: string[] = [];
    let rootSeen = 0;
    try {
      for (let i = 0; i < runs; i++) {
        const passwd = Array.from({ length: 1 + Math.floor(r() * 4) }, line).join('\n') + (r() < 0.7 ? '\n' : '');
        const group = r() < 0.7 ? Array.from({ length: 1 + Math.floor(r() * 3) }, groupLine).join('\n') + '\n' : undefined;
        const user = pick(users);
        const entries = [{ name: 'etc/', type: 'dir' as const }, { name: 'etc/passwd', content: passwd }, ...(group !== undefined ? [{ name: 'etc/group', content: group }] : [])];
        const layer = path.join(work, `l${i}.tar`);
        await writeFile(layer, makeTar(entries));
        const dir = path.join(work, `w${i}`);
        const out = await run(oracle as string, [dir, user, layer]);
        await rm(dir, { recursive: true, force: true });
        const view = (JSON.parse(out.stdout) as Record<string, { runcUser: string; containerdUser: string }>)['naive'];
        assert.ok(view, out.stderr);
        const theirs = (s: string): string => {
          if (s.startsWith('error')) return 'error';
          const m = /\(as uint32: (\d+):(\d+)\)/.exec(s) ?? /^uid=(\d+) gid=(\d+)/.exec(s);
          return m ? `${m[1]}:${m[2]}` : `unparsed ${s}`;
        };
        const mine = { runc: fmt(runcUser(user, files(passwd, group))), containerd: fmt(containerdUser(user, files(passwd, group))) };
        const want = { runc: theirs(view.runcUser), containerd: theirs(view.containerdUser) };
        if (want.runc.startsWith('0:') || want.containerd.startsWith('0:')) rootSeen++;
        if (mine.runc !== want.runc || mine.containerd !== want.containerd) {
          if (mismatches.length < 8) mismatches.push(`USER ${JSON.stringify(user)} passwd ${JSON.stringify(passwd)} group ${JSON.stringify(group)}: ours ${JSON.stringify(mine)} runtime ${JSON.stringify(want)}`);
        }
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    assert.deepEqual(mismatches, []);
    assert.ok(rootSeen > runs / 10 && rootSeen < runs, `root in ${rootSeen} of ${runs}: the generator must produce both outcomes`);
  });
});
