import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { loadRules, type RuleSet } from '../../../../src/policy/load-rules.js';
import type { Finding } from '../../../../src/report/types.js';
import type { TestEntry } from '../../../helpers/tar-writer.js';
import { LIBRARY, makeZip, scanSecrets, TOKEN } from './helpers.js';

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');
const sha1 = (b: Buffer | string): Buffer => createHash('sha1').update(b).digest();
const MAN_PAGE = gzipSync('.TH APT_AUTH.CONF 5\n.SH EXAMPLE\nmachine example.org login apt password debian\n');

/** dpkg's database for one package: its `.list` and its `.md5sums` (paths relative, as dpkg writes them). */
function dpkg(pkg: string, files: Record<string, Buffer | string>): TestEntry[] {
  const paths = Object.keys(files);
  return [
    { name: `var/lib/dpkg/info/${pkg}.list`, content: ['/.', ...paths.map((p) => `/${p}`)].join('\n') + '\n' },
    { name: `var/lib/dpkg/info/${pkg}.md5sums`, content: paths.map((p) => `${md5(files[p] as Buffer | string)}  ${p}`).join('\n') + '\n' },
  ];
}

const secrets = (findings: readonly Finding[]): string[] =>
  findings.filter((f) => f.check === 'secret').map((f) => `${f.rule} ${f.path} ${f.blocking ? 'blocking' : 'not-blocking'} ${f.severity}${f.inFinalFilesystem ? '' : ' removed'}`).sort();

describe('secrets in files the distribution packaged (issue 11)', function () {
  let rules: RuleSet;
  before(async () => {
    rules = await loadRules();
  });

  it('reports a test key in a packaged, unchanged library without blocking, and the same bytes elsewhere blocking', async function () {
    const findings = await scanSecrets(rules, [
      [
        ...dpkg('libfoo1:amd64', { 'usr/lib/libfoo.so.1': LIBRARY, 'usr/share/man/man5/foo.5.gz': MAN_PAGE }),
        { name: 'usr/lib/libfoo.so.1', content: LIBRARY },
        { name: 'usr/share/man/man5/foo.5.gz', content: MAN_PAGE },
        { name: 'usr/local/lib/libfoo.so.1', content: LIBRARY },
      ],
    ]);
    assert.deepEqual(secrets(findings), [
      'private-key-pkcs8 /usr/local/lib/libfoo.so.1 blocking critical',
      'secret-packaged /usr/lib/libfoo.so.1 not-blocking low',
      'secret-packaged /usr/share/man/man5/foo.5.gz not-blocking low',
    ]);
    const packaged = findings.filter((f) => f.rule === 'secret-packaged');
    assert.ok(packaged.every((f) => /in a file packaged by libfoo1:amd64 and unchanged$/.test(f.message)), JSON.stringify(packaged.map((f) => f.message)));
    assert.match(packaged.find((f) => f.path === '/usr/lib/libfoo.so.1')?.message ?? '', /^PKCS#8 private key \(PEM\) in \/usr\/lib\/libfoo\.so\.1 line \d+ \(rule private-key-pkcs8\)/);
    // The fingerprint names the secret, whichever file it is in: the same key in both places.
    const fp = new Set(findings.filter((f) => f.path?.includes('libfoo')).map((f) => f.fingerprint));
    assert.equal(fp.size, 1);
  });

  it('blocks on a packaged file whose content no longer matches its md5sums, and says so', async function () {
    const findings = await scanSecrets(rules, [[...dpkg('libfoo1:amd64', { 'usr/lib/libfoo.so.1': 'the original\n' }), { name: 'usr/lib/libfoo.so.1', content: LIBRARY }]]);
    assert.deepEqual(secrets(findings), ['private-key-pkcs8 /usr/lib/libfoo.so.1 blocking critical']);
    assert.match(findings.find((f) => f.check === 'secret')?.message ?? '', /the file differs from what libfoo1:amd64 installed there$/);
  });

  it('blocks when a later layer changes a packaged file, and not on the packaged copy it replaced', async function () {
    const findings = await scanSecrets(rules, [
      [...dpkg('libfoo1:amd64', { 'usr/lib/libfoo.so.1': LIBRARY }), { name: 'usr/lib/libfoo.so.1', content: LIBRARY }],
      [{ name: 'usr/lib/libfoo.so.1', content: Buffer.concat([LIBRARY, Buffer.from('patched')]) }],
    ]);
    assert.deepEqual(secrets(findings), ['private-key-pkcs8 /usr/lib/libfoo.so.1 blocking critical', 'secret-packaged /usr/lib/libfoo.so.1 not-blocking low removed']);
  });

  it('keeps vouching for packaged content a later layer removed (it still ships: rm -rf /usr/share/man)', async function () {
    const findings = await scanSecrets(rules, [
      [...dpkg('apt', { 'usr/share/man/man5/apt_auth.conf.5.gz': MAN_PAGE }), { name: 'usr/share/man/man5/apt_auth.conf.5.gz', content: MAN_PAGE }],
      [{ name: 'usr/share/.wh.man' }],
    ]);
    assert.deepEqual(secrets(findings), ['secret-packaged /usr/share/man/man5/apt_auth.conf.5.gz not-blocking low removed']);
  });

  it('does not let a later layer vouch for a file by rewriting the package database', async function () {
    const findings = await scanSecrets(rules, [[{ name: 'app/key.so', content: LIBRARY }], dpkg('evil', { 'app/key.so': LIBRARY })]);
    assert.deepEqual(secrets(findings), ['private-key-pkcs8 /app/key.so blocking critical']);
  });

  it('reads apk’s installed database (Z: sha1 checksums) too', async function () {
    const installed = ['C:Q1abc=', 'P:libfoo', 'V:1.0-r0', 'F:usr/lib', 'R:libfoo.so.1', `Z:Q1${sha1(LIBRARY).toString('base64')}`, '', ''].join('\n');
    const findings = await scanSecrets(rules, [[{ name: 'lib/apk/db/installed', content: installed }, { name: 'usr/lib/libfoo.so.1', content: LIBRARY }, { name: 'usr/lib/libbar.so.1', content: LIBRARY }]]);
    assert.deepEqual(secrets(findings), ['private-key-pkcs8 /usr/lib/libbar.so.1 blocking critical', 'secret-packaged /usr/lib/libfoo.so.1 not-blocking low']);
    assert.match(findings.find((f) => f.rule === 'secret-packaged')?.message ?? '', /packaged by libfoo and unchanged/);
  });

  it('treats a secret reachable through a hard link as in the final filesystem', async function () {
    const layer0: TestEntry[] = [
      { name: 'app/token.txt', content: `token ${TOKEN}\n` },
      { name: 'app/kept', type: 'hardlink', linkname: 'app/token.txt' },
    ];
    const linked = await scanSecrets(rules, [layer0, [{ name: 'app/.wh.token.txt' }]]);
    assert.deepEqual(secrets(linked), ['github-pat-classic /app/token.txt blocking critical']);
    // Without the link, the file is gone from the final filesystem, and still ships (and still blocks).
    const removed = await scanSecrets(rules, [[layer0[0] as TestEntry], [{ name: 'app/.wh.token.txt' }]]);
    assert.deepEqual(secrets(removed), ['github-pat-classic /app/token.txt blocking critical removed']);
  });

  it('does not vouch for a packaged file a builder linked under a name no package lists', async function () {
    const findings = await scanSecrets(rules, [
      [...dpkg('libfoo1:amd64', { 'usr/lib/libfoo.so.1': LIBRARY }), { name: 'usr/lib/libfoo.so.1', content: LIBRARY }, { name: 'root/key', type: 'hardlink', linkname: 'usr/lib/libfoo.so.1' }],
    ]);
    assert.deepEqual(secrets(findings), ['private-key-pkcs8 /usr/lib/libfoo.so.1 blocking critical']);
  });

  it('fails closed on content it cannot read, unless the distribution vouches for those very bytes', async function () {
    const zip = makeZip([{ name: 'fixture.txt', data: Buffer.from('x'.repeat(100)) }]);
    zip.writeUInt16LE(1, zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 8);
    const findings = await scanSecrets(rules, [[...dpkg('python3-foo', { 'usr/lib/python3/dist-packages/foo/tests/locked.zip': zip }), { name: 'usr/lib/python3/dist-packages/foo/tests/locked.zip', content: zip }, { name: 'app/locked.zip', content: zip }]]);
    assert.deepEqual(
      findings.map((f) => `${f.check} ${f.rule} ${f.path} ${f.blocking}`).sort(),
      ['analyzer-error secrets /app/locked.zip true', 'secret secret-packaged /usr/lib/python3/dist-packages/foo/tests/locked.zip false'],
    );
    assert.match(findings.find((f) => f.rule === 'secret-packaged')?.message ?? '', /could not scan .* for secrets whole: archive entry "fixture\.txt": it is encrypted; in a file packaged by python3-foo and unchanged$/);
  });
});
