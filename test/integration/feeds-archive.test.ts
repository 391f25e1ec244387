import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import type { Finding, Report } from '../../src/report/types.js';
import { imggate } from '../harness/cli.js';
import { startDebianMirror, type TestMirror } from '../harness/debian-mirror.js';
import { buildImage, writeOciLayout } from '../harness/images.js';

const status = (pkgs: Array<[string, string]>): string => pkgs.map(([n, v]) => `Package: ${n}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${v}\n`).join('\n');

/**
 * The archive as a host's apt finds it: a stand-in Debian-style mirror on loopback (InRelease signed
 * by the real gpg, indexes compressed by the real xz and gzip) named by apt sources files that the
 * test writes, the way /etc/apt/sources.list(.d) names the real archive. No imggate.yaml names a feed:
 * the check finds it from the sources, fetches it, and judges the image's release by it.
 */
describe('feeds found from the host apt sources, kept fresh by check @integration', function () {
  this.timeout(300_000);
  let mirror: TestMirror;
  let dir: string;
  let image: string;
  const day = 86_400_000;
  const httpDate = (ms: number): string => new Date(ms).toUTCString();

  const publishAll = async (when: number, extra: { securityValidUntil?: number } = {}): Promise<void> => {
    // Like the real archive: the point release as .xz and .gz, -updates and -security listing the plain
    // Packages but serving only Packages.xz, -security with Acquire-By-Hash and a Valid-Until.
    await mirror.publish('bookworm', [{ name: 'bash', version: '5.2.15-2+b2' }, { name: 'tar', version: '1.34+dfsg-1.2+deb12u1' }, { name: 'zlib1g', version: '1:1.2.13.dfsg-1' }], { forms: ['.xz', '.gz'], date: httpDate(when - 30 * day), origin: 'Debian' });
    await mirror.publish('bookworm-updates', [{ name: 'tar', version: '1.34+dfsg-1.2+deb12u2' }], { forms: ['', '.xz'], unserved: [''], date: httpDate(when), origin: 'Debian' });
    await mirror.publish('bookworm-security', [{ name: 'bash', version: '5.2.15-2+b7' }, { name: 'zlib1g', version: '1:1.2.13.dfsg-1+deb12u1' }], {
      forms: ['', '.xz'],
      unserved: [''],
      byHash: true,
      origin: 'Debian',
      date: httpDate(when),
      validUntil: httpDate(extra.securityValidUntil ?? when + 7 * day),
    });
  };

  /** An apt configuration directory like /etc/apt: one-line sources.list for the mirror, deb822 for security. */
  const aptDir = async (name: string, keyring: string): Promise<string> => {
    const apt = path.join(dir, name);
    await mkdir(path.join(apt, 'sources.list.d'), { recursive: true });
    await writeFile(path.join(apt, 'sources.list'), `# the main archive\ndeb [signed-by=${keyring}] ${mirror.url} bookworm main\ndeb [signed-by=${keyring}] ${mirror.url} bookworm-updates main\n`);
    await writeFile(path.join(apt, 'sources.list.d', 'security.sources'), `Types: deb\nURIs: ${mirror.url}\nSuites: bookworm-security\nComponents: main\nSigned-By: ${keyring}\n`);
    await writeFile(path.join(apt, 'sources.list.d', 'thirdparty.sources'), `Types: deb\nURIs: http://127.0.0.1:9/thirdparty\nSuites: nodistro\nComponents: main\n`);
    return apt;
  };

  const config = async (name: string, body: string): Promise<string> => {
    const file = path.join(dir, `${name}.yaml`);
    await writeFile(file, `store:\n  dir: ${path.join(dir, `store-${name}`)}\n${body}`);
    return file;
  };

  const check = async (file: string, extra: string[] = []): Promise<{ code: number; report: Report }> => {
    const r = await imggate(['check', '--format', 'json', '--no-attest', '--config', file, ...extra, `oci:${image}:v1`]);
    return { code: r.code, report: JSON.parse(r.stdout) as Report };
  };
  const byCheck = (report: Report, check: string): Finding[] => report.findings.filter((f) => f.check === check);

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-feeds-host-'));
    mirror = await startDebianMirror({});
    await publishAll(Date.now());
    image = path.join(dir, 'image');
    const built = await buildImage({
      layers: [
        {
          entries: [
            { name: 'etc/os-release', content: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n' },
            { name: 'var/lib/dpkg/status', content: status([['bash', '5.2.15-2+b2'], ['tar', '1.34+dfsg-1.2+deb12u1'], ['zlib1g', '1:1.2.13.dfsg-1']]) },
          ],
        },
      ],
    });
    await writeOciLayout(image, 'v1', built);
  });
  after(async () => {
    await mirror?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('with no feed configured, fetches the image release from the host apt sources (.xz only where only .xz is served, by-hash) and reports outdated packages with the newest version and its suite', async function () {
    const file = await config('host', `feeds:\n  hostSources:\n    apt: ${await aptDir('apt', mirror.keyring)}\n`);
    const { code, report } = await check(file);
    assert.equal(code, 1, JSON.stringify(report.findings.filter((f) => f.blocking)));
    const outdated = byCheck(report, 'outdated-package').map((f) => `${f.rule} ${f.package?.name} ${f.package?.fixedVersion} ${f.package?.fixedIn} ${f.blocking}`).sort();
    assert.deepEqual(outdated, [
      'security-update bash 5.2.15-2+b7 bookworm-security true',
      'security-update zlib1g 1:1.2.13.dfsg-1+deb12u1 bookworm-security true',
      'stable-update tar 1.34+dfsg-1.2+deb12u2 bookworm-updates false',
    ]);
    assert.deepEqual(byCheck(report, 'feed'), []);
    assert.deepEqual(report.feeds?.map((f) => `${f.kind} ${f.sources[0]?.replace(mirror.url, 'M')} ${f.verified}`), ['debian M/dists/bookworm true', 'debian M/dists/bookworm-updates true', 'debian M/dists/bookworm-security true']);
    const security = report.feeds?.find((f) => f.sources[0]?.endsWith('bookworm-security'));
    assert.ok(security?.date && security.validUntil && security.fetchedAt, 'Date, Valid-Until and fetch time are in the report');
    // The third-party source (no -updates/-security) is never contacted; -security indexes only by hash.
    assert.ok(!mirror.requests.some((p) => p.includes('thirdparty')));
    assert.ok(mirror.requests.some((p) => p.includes('bookworm-security/main/binary-amd64/by-hash/SHA256/')));
    assert.ok(!mirror.requests.some((p) => p === '/debian/dists/bookworm-updates/main/binary-amd64/Packages'), 'the listed-but-unserved plain index is not asked for when .xz is listed');
  });

  it('many checks starting together fetch each suite once (a lock in the store)', async function () {
    const file = await config('together', `feeds:\n  hostSources:\n    apt: ${await aptDir('apt-together', mirror.keyring)}\n`);
    const before = mirror.requests.length;
    const results = await Promise.all([1, 2, 3].map(() => check(file)));
    assert.deepEqual(results.map((r) => r.code), [1, 1, 1]);
    const inReleases = mirror.requests.slice(before).filter((p) => p.endsWith('/InRelease')).sort();
    assert.deepEqual(inReleases, ['/debian/dists/bookworm-security/InRelease', '/debian/dists/bookworm-updates/InRelease', '/debian/dists/bookworm/InRelease']);
  });

  it('reads .gz when .xz is listed but missing', async function () {
    await mirror.publish('bookworm', [{ name: 'bash', version: '5.2.15-2+b2' }, { name: 'tar', version: '1.34+dfsg-1.2+deb12u1' }], { forms: ['.xz', '.gz'], unserved: ['.xz'], origin: 'Debian' });
    try {
      const file = await config('gz', `feeds:\n  hostSources:\n    apt: ${await aptDir('apt-gz', mirror.keyring)}\n`);
      const { report } = await check(file);
      assert.deepEqual(byCheck(report, 'feed'), []);
      assert.ok(mirror.requests.includes('/debian/dists/bookworm/main/binary-amd64/Packages.gz'));
    } finally {
      await publishAll(Date.now());
    }
  });

  it('fails closed: bad signature, tampered index, expired Valid-Until, vanished index — each a blocking feed finding naming why', async function () {
    const cases: Array<{ name: string; keyring?: string; setup(): Promise<void> | void; expect: RegExp; rule: string }> = [
      { name: 'other-key', keyring: mirror.otherKeyring, setup: () => undefined, expect: /AUTH_FAILED: InRelease signature does not verify/, rule: 'feed-missing' },
      {
        name: 'tampered',
        setup: () => mirror.override('/debian/dists/bookworm/main/binary-amd64/Packages.xz', Buffer.from('not the index the Release lists')),
        expect: /DIGEST_MISMATCH: bookworm\/main\/binary-amd64\/Packages\.xz hashes to/,
        rule: 'feed-missing',
      },
      { name: 'expired', setup: () => publishAll(Date.now(), { securityValidUntil: Date.now() - day }), expect: /FEED_STALE: .*expired at .*Valid-Until/, rule: 'feed-missing' },
      {
        name: 'vanished',
        setup: () => mirror.remove('/debian/dists/bookworm-updates/main/binary-amd64/Packages.xz'),
        expect: /NOT_FOUND: bookworm-updates: the Release lists .*but the mirror serves none of them/,
        rule: 'feed-missing',
      },
    ];
    for (const c of cases) {
      await c.setup();
      try {
        const file = await config(c.name, `feeds:\n  hostSources:\n    apt: ${await aptDir(`apt-${c.name}`, c.keyring ?? mirror.keyring)}\n`);
        const { code, report } = await check(file);
        assert.equal(code, 2, `${c.name}: inconclusive, never a pass`);
        const feed = byCheck(report, 'feed');
        assert.ok(feed.some((f) => f.rule === c.rule && f.blocking && c.expect.test(f.message)), `${c.name}: ${JSON.stringify(feed)}`);
      } finally {
        mirror.override('/debian/dists/bookworm/main/binary-amd64/Packages.xz', undefined);
        await publishAll(Date.now());
      }
    }
  });

  /**
   * An air-gapped machine: its apt directory either names the archive it cannot reach (a refused port)
   * with the archive key as Signed-By, or names no source at all and holds the key in trusted.gpg.d.
   */
  const airGapped = async (name: string, sources: boolean): Promise<string> => {
    const apt = path.join(dir, name);
    const keys = path.join(apt, sources ? 'keyrings' : 'trusted.gpg.d');
    await mkdir(keys, { recursive: true });
    const key = path.join(keys, 'archive.gpg');
    await copyFile(mirror.keyring, key);
    if (sources) {
      await writeFile(path.join(apt, 'sources.list'), ['bookworm', 'bookworm-updates', 'bookworm-security'].map((s) => `deb [signed-by=${key}] http://127.0.0.1:9/debian ${s} main\n`).join(''));
    }
    return apt;
  };

  /** `feeds update` of bookworm into a store, then `feeds export` of it. */
  const exportFrom = async (name: string, file: string): Promise<string> => {
    const config_ = await config(name, `feeds:\n  hostSources:\n    apt: ${await aptDir(`apt-${name}`, mirror.keyring)}\n`);
    const update = await imggate(['feeds', 'update', '--distro', 'debian', '--release', 'bookworm', '--arch', 'amd64', '--config', config_]);
    assert.equal(update.code, 0, update.stderr);
    const exported = await imggate(['feeds', 'export', file, '--config', config_]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /^3 feed snapshot\(s\) with their signed InRelease and indexes/);
    return config_;
  };

  /** What a check concluded from the feeds: outdated findings, feed findings, and the snapshots it used. */
  const judged = (report: Report): { outdated: string[]; feed: string[]; feeds: string[] } => ({
    outdated: byCheck(report, 'outdated-package').map((f) => `${f.rule} ${f.package?.name} ${f.package?.fixedVersion} ${f.package?.fixedIn} ${f.blocking}`).sort(),
    feed: byCheck(report, 'feed').map((f) => f.rule),
    feeds: (report.feeds ?? []).map((f) => `${f.sources[0]} ${f.digest} ${f.verified} ${f.date}`),
  });

  it('feeds export on a connected store, feeds import on one that never reaches the archive: check --offline there judges the same', async function () {
    const file = path.join(dir, 'roundtrip.tar.gz');
    const a = await exportFrom('export-a', file);
    const onA = await check(a, ['--offline']);
    assert.equal(onA.code, 1);
    assert.equal(byCheck(onA.report, 'outdated-package').length, 3);
    const before = mirror.requests.length;
    for (const sources of [true, false]) {
      const b = await config(`import-b-${sources}`, `feeds:\n  hostSources:\n    apt: ${await airGapped(`apt-import-b-${sources}`, sources)}\n`);
      const imported = await imggate(['feeds', 'import', file, '--config', b]);
      assert.equal(imported.code, 0, `sources ${sources}: ${imported.stdout}${imported.stderr}`);
      for (const suite of ['bookworm', 'bookworm-updates', 'bookworm-security']) {
        assert.match(imported.stdout, new RegExp(`^${suite}: \\d+ packages, InRelease sha256:[a-f0-9]{64}, signature verified`, 'm'));
      }
      const onB = await check(b, ['--offline']);
      assert.deepEqual(judged(onB.report), judged(onA.report), `sources ${sources}`);
      assert.equal(onB.code, onA.code);
    }
    // Grown stale on the machine with no sources: a refresh is tried, fails saying why, and the
    // imported snapshots are still used and named.
    const stale = await config('import-b-stale', `feeds:\n  maxAge: 1ms\n  hostSources:\n    apt: ${path.join(dir, 'apt-import-b-false')}\n`);
    await rename(path.join(dir, 'store-import-b-false'), path.join(dir, 'store-import-b-stale'));
    const staleCheck = await check(stale);
    assert.equal(staleCheck.code, 2);
    const failed = byCheck(staleCheck.report, 'feed');
    assert.equal(failed.filter((f) => f.rule === 'feed-refresh-failed' && /nothing names an archive to refresh it from .*name no distribution archive.*imggate feeds import/.test(f.message)).length, 3, JSON.stringify(failed));
    assert.deepEqual(judged(staleCheck.report).outdated, judged(onA.report).outdated);
    assert.equal(mirror.requests.length, before, 'the importing machine never asks the archive');
  });

  it('refuses a tampered export whole (an index byte, a re-signed InRelease, an edited package list), saying why; nothing is imported', async function () {
    const file = path.join(dir, 'tamper.tar.gz');
    await exportFrom('tamper-a', file);
    const suiteDir = 'bookworm/amd64';
    const cases: Array<{ name: string; edit(root: string): Promise<void>; expect: RegExp }> = [
      {
        name: 'index-byte',
        edit: async (root) => {
          const index = path.join(root, suiteDir, 'bookworm-security.files', 'main', 'binary-amd64', 'Packages.xz');
          const data = await readFile(index);
          data[data.length >> 1] = (data[data.length >> 1] ?? 0) ^ 1;
          await writeFile(index, data);
        },
        expect: /^bookworm-security: NOT imported: DIGEST_MISMATCH: bookworm-security\/main\/binary-amd64\/Packages\.xz hashes to/m,
      },
      {
        name: 're-signed',
        edit: async (root) => {
          const file_ = path.join(root, suiteDir, 'bookworm-updates.files', 'InRelease');
          const signed = /\n\n([\s\S]*?\n)-----BEGIN PGP SIGNATURE-----/.exec(await readFile(file_, 'utf8'))?.[1];
          assert.ok(signed);
          await writeFile(file_, await mirror.clearsign(signed, 'other'));
        },
        expect: /^bookworm-updates: NOT imported: AUTH_FAILED: InRelease signature does not verify/m,
      },
      {
        name: 'package-list',
        edit: async (root) => {
          const json = path.join(root, suiteDir, 'bookworm-security.json');
          const snapshot = JSON.parse(await readFile(json, 'utf8')) as { packages: Record<string, string> };
          delete snapshot.packages['bash'];
          await writeFile(json, JSON.stringify(snapshot));
        },
        expect: /^bookworm-security: NOT imported: DIGEST_MISMATCH: the export's snapshot of bookworm-security does not list what its signed indexes do \(bash: absent in the snapshot, 5\.2\.15-2\+b7 in the indexes\)/m,
      },
    ];
    for (const c of cases) {
      const root = path.join(dir, `tamper-${c.name}`);
      await mkdir(root, { recursive: true });
      await tar.x({ file, cwd: root });
      await c.edit(root);
      const tampered = path.join(dir, `tamper-${c.name}.tar.gz`);
      await tar.c({ gzip: true, file: tampered, cwd: root, portable: true }, await readdir(root));
      const b = await config(`tamper-b-${c.name}`, `feeds:\n  hostSources:\n    apt: ${await airGapped(`apt-tamper-b-${c.name}`, true)}\n`);
      const imported = await imggate(['feeds', 'import', tampered, '--config', b]);
      assert.equal(imported.code, 2, `${c.name}: ${imported.stdout}`);
      assert.match(imported.stdout, c.expect, c.name);
      assert.equal((imported.stdout.match(/: NOT imported: /g) ?? []).length, 3, `${c.name}: every suite refused with the export\n${imported.stdout}`);
      const onB = await check(b, ['--offline']);
      assert.deepEqual(judged(onB.report), { outdated: [], feed: ['feed-missing', 'feed-missing', 'feed-missing'], feeds: [] }, c.name);
    }
  });

  it('an import never replaces a newer snapshot with an older one, and an import of a newer one replaces the older', async function () {
    try {
      await publishAll(Date.now() - 2 * day);
      const older = path.join(dir, 'older.tar.gz');
      await exportFrom('age-older', older);
      await publishAll(Date.now() - day);
      const newer = path.join(dir, 'newer.tar.gz');
      const a = await exportFrom('age-newer', newer);
      const want = judged((await check(a, ['--offline'])).report);
      const b = await config('age-b', `feeds:\n  hostSources:\n    apt: ${await airGapped('apt-age-b', true)}\n`);
      const first = await imggate(['feeds', 'import', newer, '--config', b]);
      assert.equal(first.code, 0, first.stdout);
      const again = await imggate(['feeds', 'import', older, '--config', b]);
      assert.equal(again.code, 0, again.stdout);
      for (const suite of ['bookworm', 'bookworm-updates', 'bookworm-security']) {
        assert.match(again.stdout, new RegExp(`^${suite}: kept the newer snapshot this store holds \\(archive dated [^)]+\\); the export's is dated `, 'm'));
      }
      assert.deepEqual(judged((await check(b, ['--offline'])).report), want, 'still the newer snapshots');
      const c = await config('age-c', `feeds:\n  hostSources:\n    apt: ${await airGapped('apt-age-c', true)}\n`);
      for (const f of [older, newer]) assert.equal((await imggate(['feeds', 'import', f, '--config', c])).code, 0);
      assert.deepEqual(judged((await check(c, ['--offline'])).report), want, 'the newer import replaced the older');
    } finally {
      await publishAll(Date.now());
    }
  });

  it('keeps the last good snapshot when the archive replays an older InRelease or is unreachable, and says so; --offline does not fetch', async function () {
    // maxAge 1ms: every check finds its snapshots stale and refreshes them first.
    const file = await config('lastgood', `feeds:\n  maxAge: 1ms\n  hostSources:\n    apt: ${await aptDir('apt-lastgood', mirror.keyring)}\n`);
    assert.equal((await check(file)).code, 1);
    await publishAll(Date.now() - 3 * day);
    try {
      const replayed = await check(file);
      assert.equal(replayed.code, 2);
      const failed = byCheck(replayed.report, 'feed').filter((f) => f.rule === 'feed-refresh-failed');
      assert.equal(failed.length, 3, JSON.stringify(replayed.report.findings));
      assert.ok(failed.every((f) => /FEED_REPLAYED: .*older than the .* already fetched/.test(f.message) && /the last good snapshot \(fetched .*\) was used/.test(f.message)));
      assert.equal(byCheck(replayed.report, 'outdated-package').length, 3, 'outdated packages still come from the last good snapshot');
    } finally {
      await publishAll(Date.now());
    }
    const before = mirror.requests.length;
    const offline = await check(file, ['--offline']);
    assert.equal(offline.code, 2);
    assert.equal(mirror.requests.length, before, '--offline fetches nothing');
    assert.equal(byCheck(offline.report, 'feed').filter((f) => f.rule === 'stale-feed').length, 3);
    assert.equal(byCheck(offline.report, 'outdated-package').length, 3);
    await mirror.stop();
    const down = await check(file);
    assert.equal(down.code, 2);
    const refresh = byCheck(down.report, 'feed').filter((f) => f.rule === 'feed-refresh-failed');
    assert.equal(refresh.length, 3, JSON.stringify(down.report.findings));
    assert.equal(byCheck(down.report, 'outdated-package').length, 3);
  });
});
