import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { deflateRawSync, gzipSync } from 'node:zlib';
import type { ImageConfig } from '../../../../src/oci/schemas.js';
import { loadRules, type RuleSet } from '../../../../src/policy/load-rules.js';
import type { Finding } from '../../../../src/report/types.js';
import { secretsAnalyzer } from '../../../../src/scan/analyzers/secrets/index.js';
import { scanLayers } from '../../../../src/scan/engine.js';
import { makeTar, type TestEntry } from '../../../helpers/tar-writer.js';

const MIB = 1024 * 1024;
/** Tokens of GitHub's classic shape, made up here (random enough for the rule's entropy floor). */
const TOKEN = 'ghp_q7Rk2mVx9LpT4wZb8NcY3hJd6FsA1eGu5oKi';
const TOKEN2 = 'ghp_W3nB8vXc1ZqL5tRy7UoP2aSd9FgH4jKm6EiT';

/** A minimal zip writer: entries as given, optionally many central records over one local entry. */
function makeZip(entries: Array<{ name: string; data: Buffer; deflate?: boolean }>, aliases = 0): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const central = (name: Buffer, method: number, size: number, raw: number, at: number): Buffer => {
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(method, 10);
    c.writeUInt32LE(size, 20);
    c.writeUInt32LE(raw, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(at, 42);
    return Buffer.concat([c, name]);
  };
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = e.deflate === false ? e.data : deflateRawSync(e.data);
    const method = e.deflate === false ? 0 : 8;
    const l = Buffer.alloc(30);
    l.writeUInt32LE(0x04034b50, 0);
    l.writeUInt16LE(20, 4);
    l.writeUInt16LE(method, 8);
    l.writeUInt32LE(body.length, 18);
    l.writeUInt32LE(e.data.length, 22);
    l.writeUInt16LE(name.length, 26);
    locals.push(l, name, body);
    centrals.push(central(name, method, body.length, e.data.length, offset));
    for (let i = 0; i < aliases; i++) centrals.push(central(Buffer.from(`alias-${i}`), method, body.length, e.data.length, offset));
    offset += 30 + name.length + body.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length, 8);
  end.writeUInt16LE(centrals.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

async function scan(rules: RuleSet, entries: TestEntry[]): Promise<Finding[]> {
  const tar = makeTar(entries);
  const config = JSON.parse('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}') as ImageConfig;
  const result = await scanLayers(
    [{ index: 0, descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${'0'.repeat(64)}`, size: tar.length }, diffId: undefined, createdBy: undefined, open: async () => Readable.from([tar]) }],
    config,
    [secretsAnalyzer],
    { rules, maxFileBytes: 4096, now: new Date('2026-01-01T00:00:00Z') },
    { maxUncompressedLayerBytes: 1024 * MIB, maxUncompressedTotalBytes: 1024 * MIB, maxFileBytes: 4096, concurrency: 1 },
  );
  return result.findings;
}

const filler = (bytes: number): string => 'lorem ipsum dolor sit amet\n'.repeat(Math.ceil(bytes / 27));

describe('secrets where they hide (issue 11)', function () {
  let rules: RuleSet;
  before(async () => {
    rules = await loadRules();
  });

  const big = filler(3 * MIB);
  // Placed across the scanner's 1 MiB batch boundary, then once more at the very end.
  const at = MIB - 20;
  const bigText = `${big.slice(0, at)} ${TOKEN} ${big.slice(at)}\ntoken ${TOKEN2}`;
  const lineAt = (text: string, index: number): number => text.slice(0, index).split('\n').length;

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
    { what: 'a gzip file', entries: [{ name: 'app/conf.gz', content: gzipSync(`a\nb\ngh ${TOKEN}\n`) }], expect: [{ rule: 'github-pat-classic', path: '/app/conf.gz', line: 3, message: /decompressed/ }] },
    {
      what: 'a jar entry',
      entries: [{ name: 'app/app.jar', content: makeZip([{ name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n') }, { name: 'BOOT-INF/classes/application.properties', data: Buffer.from(`x=1\ngithub.pat ${TOKEN}\n`) }]) }],
      expect: [{ rule: 'github-pat-classic', path: '/app/app.jar', line: 2, message: /application\.properties/ }],
    },
    { what: 'a symlink target', entries: [{ name: 'app/link', type: 'symlink', linkname: `/run/${TOKEN}` }], expect: [{ rule: 'github-pat-classic', path: '/app/link', message: /target of symlink/ }] },
    { what: 'a file name', entries: [{ name: `app/${TOKEN}.txt`, content: '' }], expect: [{ rule: 'github-pat-classic', path: '/app/[REDACTED:github-pat-classic].txt', message: /file name/ }] },
    { what: 'an extended attribute', entries: [{ name: 'app/x', content: 'x', pax: { 'SCHILY.xattr.user.note': `token ${TOKEN}` } }], expect: [{ rule: 'github-pat-classic', path: '/app/x', message: /extended attribute user\.note/ }] },
    { what: 'a key dropped in /usr/share/doc', entries: [{ name: 'usr/share/doc/app/notes.txt', content: `token ${TOKEN}` }], expect: [{ rule: 'github-pat-classic', path: '/usr/share/doc/app/notes.txt' }] },
    { what: 'a key in dist-packages', entries: [{ name: 'usr/lib/python3/dist-packages/app/settings.py', content: `GH = "${TOKEN}"` }], expect: [{ rule: 'github-pat-classic', path: '/usr/lib/python3/dist-packages/app/settings.py' }] },
    { what: 'a key in /etc/ssl/certs', entries: [{ name: 'etc/ssl/certs/notes.txt', content: `token ${TOKEN}` }], expect: [{ rule: 'github-pat-classic', path: '/etc/ssl/certs/notes.txt' }] },
    { what: 'time zone data (still skipped, with its reason)', entries: [{ name: 'usr/share/zoneinfo/Etc/X', content: `token ${TOKEN}` }], expect: [] },
  ];

  for (const c of cases) {
    it(`finds a secret in ${c.what}, and never its value`, async function () {
      const findings = await scan(rules, c.entries);
      const secrets = findings.filter((f) => f.check === 'secret');
      assert.deepEqual(
        secrets.map((f) => ({ rule: f.rule, path: f.path })),
        c.expect.map((e) => ({ rule: e.rule, path: e.path })),
        JSON.stringify(findings.map((f) => f.message)),
      );
      c.expect.forEach((e, i) => {
        if (e.line !== undefined) assert.equal(secrets[i]?.line, e.line);
        if (e.message) assert.match(secrets[i]?.message ?? '', e.message);
      });
      assert.equal(findings.filter((f) => f.check === 'analyzer-error').length, 0);
      assert.ok(!JSON.stringify(findings).includes(TOKEN.slice(4)) && !JSON.stringify(findings).includes(TOKEN2.slice(4)), 'the value never reaches a finding');
    });
  }

  it('inflates a zip whose entries all point at one large stream once, and stops at the cap (fail closed)', async function () {
    const bomb = makeZip([{ name: 'a', data: Buffer.alloc(40 * MIB) }], 5000);
    assert.ok(bomb.length < 2 * MIB);
    const findings = await scan(rules, [{ name: 'app/bomb.jar', content: bomb }]);
    const errors = findings.filter((f) => f.check === 'analyzer-error');
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /could not scan \/app\/bomb\.jar for secrets: (?:5001 entries|entry "a" inflates to more than)/);
    assert.equal(errors[0]?.blocking, true);
  });

  it('reads many names over one small stream once each, without an error', async function () {
    const zip = makeZip([{ name: 'a.properties', data: Buffer.from(`gh ${TOKEN}\n`) }], 3000);
    const findings = await scan(rules, [{ name: 'app/many.zip', content: zip }]);
    assert.deepEqual(findings.map((f) => [f.check, f.rule]), [['secret', 'github-pat-classic']]);
  });
});
