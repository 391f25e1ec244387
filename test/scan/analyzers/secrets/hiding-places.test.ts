import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseImageConfig } from '../../../../src/oci/manifest.js';
import { loadRules, type RuleSet } from '../../../../src/policy/load-rules.js';
import { run } from '../../../harness/process.js';
import type { TestEntry } from '../../../helpers/tar-writer.js';
import { LIBRARY, makeZip, MIB, PEM_KEY, scanSecrets, TOKEN, TOKEN2 } from './helpers.js';

const filler = (bytes: number): string => 'lorem ipsum dolor sit amet\n'.repeat(Math.ceil(bytes / 27));
const lineAt = (text: string, index: number): number => text.slice(0, index).split('\n').length;
/** Bytes that hold no secret whichever way they are read (a PRNG's, not text). */
const noise = (n: number): Buffer => {
  const out = Buffer.alloc(n);
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
};

describe('secrets where they hide (issue 11)', function () {
  let rules: RuleSet;
  before(async () => {
    rules = await loadRules();
  });

  const big = filler(3 * MIB);
  // Placed across the scanner's 1 MiB batch boundary, then once more at the very end.
  const at = MIB - 20;
  const bigText = `${big.slice(0, at)} ${TOKEN} ${big.slice(at)}\ntoken ${TOKEN2}`;

  const cases: Array<{ what: string; entries: TestEntry[]; expect: Array<{ rule: string; path: string; line?: number; message?: RegExp }> }> = [
    {
      what: 'a file far larger than the per-file cap, streamed whole (a secret across a batch boundary, one at the end)',
      entries: [{ name: 'app/big.log', content: bigText }],
      expect: [
        { rule: 'github-pat-classic', path: '/app/big.log', line: lineAt(bigText, at + 1) },
        { rule: 'github-pat-classic', path: '/app/big.log', line: lineAt(bigText, bigText.length - 1) },
      ],
    },
    { what: 'UTF-16LE with a byte-order mark', entries: [{ name: 'app/w.txt', content: Buffer.from(`\ufeffa\ntoken ${TOKEN}\n`, 'utf16le') }], expect: [{ rule: 'github-pat-classic', path: '/app/w.txt', line: 2 }] },
    { what: 'UTF-16BE without a mark', entries: [{ name: 'app/b.txt', content: Buffer.from(`note: token ${TOKEN} here\n`, 'utf16le').swap16() }], expect: [{ rule: 'github-pat-classic', path: '/app/b.txt', line: 1 }] },
    { what: 'text with NUL bytes (once called binary and skipped)', entries: [{ name: 'app/n.dat', content: Buffer.from(`\0\0\x7fELF\0 ${TOKEN}\0`, 'latin1') }], expect: [{ rule: 'github-pat-classic', path: '/app/n.dat' }] },
    {
      what: 'a binary-looking file (a PNG header with NULs) that carries a token',
      entries: [{ name: 'app/logo.png', content: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0]), Buffer.from(TOKEN2)]) }],
      expect: [{ rule: 'github-pat-classic', path: '/app/logo.png' }],
    },
    { what: 'an unpackaged library with a private key among NULs', entries: [{ name: 'usr/local/lib/libx.so', content: LIBRARY }], expect: [{ rule: 'private-key-pkcs8', path: '/usr/local/lib/libx.so' }] },
    {
      what: 'an unpackaged binary larger than the per-file cap, streamed',
      entries: [{ name: 'usr/local/bin/tool', content: Buffer.concat([noise(10_000), LIBRARY, noise(10_000)]) }],
      expect: [{ rule: 'private-key-pkcs8', path: '/usr/local/bin/tool' }],
    },
    { what: 'a gzip file', entries: [{ name: 'app/conf.gz', content: gzipSync(`a\nb\ngh ${TOKEN}\n`) }], expect: [{ rule: 'github-pat-classic', path: '/app/conf.gz', line: 3, message: /decompressed/ }] },
    {
      what: 'a gzip file larger than the per-file cap (a man page, say), held whole to inflate',
      entries: [{ name: 'usr/share/man/man5/x.5.gz', content: Buffer.concat([gzipSync(Buffer.concat([noise(20_000), Buffer.from(`\nmachine example.org login me password ${TOKEN}\n`)]), { level: 0 })]) }],
      expect: [
        { rule: 'github-pat-classic', path: '/usr/share/man/man5/x.5.gz', message: /decompressed/ },
        { rule: 'netrc-password', path: '/usr/share/man/man5/x.5.gz', message: /decompressed/ },
      ],
    },
    {
      what: 'a jar entry',
      entries: [{ name: 'app/app.jar', content: makeZip([{ name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n') }, { name: 'BOOT-INF/classes/application.properties', data: Buffer.from(`x=1\ngithub.pat ${TOKEN}\n`) }]) }],
      expect: [{ rule: 'github-pat-classic', path: '/app/app.jar', line: 2, message: /application\.properties/ }],
    },
    {
      what: 'a jar inside a jar',
      entries: [{ name: 'app/fat.jar', content: makeZip([{ name: 'BOOT-INF/lib/inner.jar', data: makeZip([{ name: 'secret.txt', data: Buffer.from(`t ${TOKEN}`) }]), deflate: false }]) }],
      expect: [{ rule: 'github-pat-classic', path: '/app/fat.jar', message: /inner\.jar!\/secret\.txt/ }],
    },
    { what: 'a symlink target', entries: [{ name: 'app/link', type: 'symlink', linkname: `/run/${TOKEN}` }], expect: [{ rule: 'github-pat-classic', path: '/app/link', message: /target of symlink/ }] },
    { what: 'a file name', entries: [{ name: `app/${TOKEN}.txt`, content: '' }], expect: [{ rule: 'github-pat-classic', path: '/app/[REDACTED:github-pat-classic].txt', message: /the path/ }] },
    {
      what: 'a directory name, once for everything under it',
      entries: [{ name: `app/${TOKEN}/`, type: 'dir' }, { name: `app/${TOKEN}/a`, content: 'a' }, { name: `app/${TOKEN}/b`, content: 'b' }],
      expect: [{ rule: 'github-pat-classic', path: '/app/[REDACTED:github-pat-classic]', message: /the path/ }],
    },
    { what: 'an extended attribute', entries: [{ name: 'app/x', content: 'x', pax: { 'SCHILY.xattr.user.note': `token ${TOKEN}` } }], expect: [{ rule: 'github-pat-classic', path: '/app/x', message: /extended attribute user\.note/ }] },
    { what: 'a key dropped in /usr/share/doc', entries: [{ name: 'usr/share/doc/app/notes.txt', content: `token ${TOKEN}` }], expect: [{ rule: 'github-pat-classic', path: '/usr/share/doc/app/notes.txt' }] },
    { what: 'a key in dist-packages', entries: [{ name: 'usr/lib/python3/dist-packages/app/settings.py', content: `GH = "${TOKEN}"` }], expect: [{ rule: 'github-pat-classic', path: '/usr/lib/python3/dist-packages/app/settings.py' }] },
    { what: 'a private key in /etc/ssl', entries: [{ name: 'etc/ssl/private/server.key', content: PEM_KEY }], expect: [{ rule: 'private-key-pkcs8', path: '/etc/ssl/private/server.key' }] },
    { what: 'a key in /etc/ssl/certs', entries: [{ name: 'etc/ssl/certs/notes.txt', content: `token ${TOKEN}` }], expect: [{ rule: 'github-pat-classic', path: '/etc/ssl/certs/notes.txt' }] },
    { what: 'a file named as a credential (id_rsa), whatever it holds', entries: [{ name: 'root/.ssh/id_rsa', content: 'x' }], expect: [{ rule: 'ssh-private-key-file', path: '/root/.ssh/id_rsa' }] },
  ];

  for (const c of cases) {
    it(`finds a secret in ${c.what}, and never its value`, async function () {
      const findings = await scanSecrets(rules, [c.entries]);
      const secrets = findings.filter((f) => f.check === 'secret');
      assert.deepEqual(
        secrets.map((f) => ({ rule: f.rule, path: f.path })).sort((a, b) => a.rule.localeCompare(b.rule)),
        c.expect.map((e) => ({ rule: e.rule, path: e.path })).sort((a, b) => a.rule.localeCompare(b.rule)),
        JSON.stringify(findings.map((f) => f.message)),
      );
      for (const e of c.expect) {
        const f = secrets.find((s) => s.rule === e.rule && (e.line === undefined || s.line === e.line));
        assert.ok(f, `${e.rule} at line ${e.line}`);
        if (e.message) assert.match(f.message, e.message);
      }
      assert.ok(secrets.every((f) => f.blocking && f.inFinalFilesystem === true));
      assert.equal(findings.filter((f) => f.check === 'analyzer-error').length, 0);
      const json = JSON.stringify(findings);
      assert.ok(!json.includes(TOKEN.slice(4)) && !json.includes(TOKEN2.slice(4)) && !json.includes('MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3'), 'the value never reaches a finding');
    });
  }

  it('finds a secret anywhere in the image config, once, and never its value', async function () {
    // Parsed as check parses a config blob: fields no schema names are kept for the scan.
    const config = parseImageConfig(
      Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          comment: `built with token ${TOKEN2}`,
          config: { Env: [`GH_TOKEN=${TOKEN}`], Healthcheck: { Test: ['CMD', 'curl', '-u', `bot:${TOKEN2}`, 'http://localhost/'] }, OnBuild: ['RUN echo'] },
          container_config: { Env: [`GH_TOKEN=${TOKEN}`] },
          'x-ci': { [TOKEN]: 'a key that is a token' },
          rootfs: { type: 'layers', diff_ids: [] },
          history: [{ created_by: 'COPY . /app', comment: `token ${TOKEN2}` }],
        }),
      ),
      'config',
    );
    const findings = (await scanSecrets(rules, [[{ name: 'app/x', content: 'x' }]], { config })).filter((f) => f.check === 'secret');
    // container_config copies Env, and the key of x-ci is the same token: found at ENV, not again there.
    assert.deepEqual(
      findings.map((f) => `${f.rule} ${f.message.replace(/^.* in the image config's /, '')}`).sort(),
      ['generic-secret-assignment ENV GH_TOKEN', 'github-pat-classic ENV GH_TOKEN', 'github-pat-classic field comment', 'github-pat-classic field config.Healthcheck.Test[3]', 'github-pat-classic field history[0].comment'].sort(),
    );
    assert.ok(!JSON.stringify(findings).includes(TOKEN.slice(4)) && !JSON.stringify(findings).includes(TOKEN2.slice(4)));
  });

  it('finds a secret a commit removed from a git repository the image ships, in loose objects and in a pack', async function () {
    // A real repository, made by git: the token committed, then deleted in the next commit.
    const repo = await mkdtemp(path.join(os.tmpdir(), 'imggate-git-'));
    try {
      const git = async (...args: string[]): Promise<void> => {
        const r = await run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.org', '-c', 'init.defaultBranch=main', ...args]);
        assert.equal(r.code, 0, r.stderr);
      };
      await git('init', '-q');
      await writeFile(path.join(repo, 'settings.env'), `GH=${TOKEN}\n`);
      await writeFile(path.join(repo, 'README'), 'an app\n');
      await git('add', '.');
      await git('commit', '-q', '-m', 'first');
      await rm(path.join(repo, 'settings.env'));
      await git('commit', '-q', '-a', '-m', 'drop the token');
      const tree = async (): Promise<TestEntry[]> => {
        const out: TestEntry[] = [];
        for (const name of (await readdir(path.join(repo, '.git'), { recursive: true })).sort()) {
          const file = path.join(repo, '.git', name);
          if ((await stat(file)).isFile()) out.push({ name: `app/.git/${name}`, content: await readFile(file) });
        }
        return out;
      };
      const found = async (): Promise<string[]> =>
        (await scanSecrets(rules, [[{ name: 'app/README', content: 'an app\n' }, ...(await tree())]])).filter((f) => f.check === 'secret' && f.rule === 'github-pat-classic').map((f) => f.path ?? '');
      const loose = await found();
      assert.ok(loose.length === 1 && /^\/app\/\.git\/objects\/[0-9a-f]{2}\/[0-9a-f]{38}$/.test(loose[0] as string), JSON.stringify(loose));
      await git('gc', '-q', '--prune=now');
      const packed = await found();
      assert.ok(packed.length === 1 && /^\/app\/\.git\/objects\/pack\/pack-[0-9a-f]+\.pack$/.test(packed[0] as string), JSON.stringify(packed));
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  });

  it('says when a git pack is too large to inflate whole, without failing the image for its size', async function () {
    const pack = Buffer.alloc(129 * MIB);
    pack.write('PACK', 0, 'latin1');
    const findings = await scanSecrets(rules, [[{ name: 'app/.git/objects/pack/pack-1.pack', content: pack }]]);
    assert.deepEqual(findings.map((f) => [f.rule, f.severity, f.blocking, f.path]), [['git-history-unread', 'medium', false, '/app/.git/objects/pack/pack-1.pack']]);
  });

  const clean: Array<{ what: string; entries: TestEntry[] }> = [
    { what: 'noise larger than the per-file cap', entries: [{ name: 'app/blob.bin', content: noise(MIB) }] },
    { what: 'UTF-16 text', entries: [{ name: 'app/w.txt', content: Buffer.from('\ufeffno secrets here, only a token of thanks\n', 'utf16le') }] },
    { what: 'UTF-16 whose code units outside latin1 would spell a token by their low bytes', entries: [{ name: 'app/u.txt', content: Buffer.from(`\ufeff${[...TOKEN].map((c) => String.fromCharCode(0x100 | c.charCodeAt(0))).join('')}`, 'utf16le') }] },
    { what: 'a gzip file and a jar', entries: [{ name: 'app/a.gz', content: gzipSync('hello\n') }, { name: 'app/b.jar', content: makeZip([{ name: 'a.txt', data: Buffer.from('token: none') }]) }] },
    { what: 'documentation examples the rules know', entries: [{ name: 'usr/share/doc/x/README', content: 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n' }] },
    { what: 'time zone data (still skipped, with its reason)', entries: [{ name: 'usr/share/zoneinfo/Etc/X', content: `token ${TOKEN}` }] },
  ];
  for (const c of clean) {
    it(`finds nothing in ${c.what}`, async function () {
      const findings = await scanSecrets(rules, [c.entries]);
      assert.deepEqual(findings, []);
    });
  }

  it('inflates a zip whose entries all point at one large stream once', async function () {
    const zip = makeZip([{ name: 'a.properties', data: Buffer.from(`gh ${TOKEN}\n`) }], 3000);
    const findings = await scanSecrets(rules, [[{ name: 'app/many.zip', content: zip }]]);
    assert.deepEqual(findings.map((f) => [f.check, f.rule]), [['secret', 'github-pat-classic']]);
  });

  it('ends the check at limits.maxArchiveInflate (a zip bomb), naming the setting', async function () {
    const bomb = makeZip([
      { name: 'a', data: Buffer.alloc(3 * MIB) },
      { name: 'b', data: Buffer.alloc(3 * MIB, 1) },
    ]);
    await assert.rejects(scanSecrets(rules, [[{ name: 'app/bomb.jar', content: bomb }]], { maxArchiveInflateBytes: 4 * MIB }), /limits\.maxArchiveInflate/);
  });

  it('fails closed on an archive entry it cannot read (encrypted)', async function () {
    const zip = makeZip([{ name: 'secret.txt', data: Buffer.from('x'.repeat(100)) }]);
    // Set the encryption bit in the central directory record.
    const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt16LE(1, central + 8);
    const findings = await scanSecrets(rules, [[{ name: 'app/locked.zip', content: zip }]]);
    assert.deepEqual(findings.map((f) => [f.check, f.blocking]), [['analyzer-error', true]]);
    assert.match(findings[0]?.message ?? '', /could not scan \/app\/locked\.zip for secrets: archive entry "secret\.txt": it is encrypted/);
  });

  it('stops at the check deadline inside a file', async function () {
    const controller = new AbortController();
    controller.abort(new Error('deadline'));
    await assert.rejects(scanSecrets(rules, [[{ name: 'app/big.log', content: bigText }]], { signal: controller.signal }), /deadline/);
  });
});
