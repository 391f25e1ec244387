import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Finding, Report } from '../../src/report/types.js';
import { imggate } from '../harness/cli.js';
import { startDebianMirror, type MirrorPackage, type SuiteOptions, type TestMirror } from '../harness/debian-mirror.js';
import { buildImage, writeOciLayout } from '../harness/images.js';

const COMPONENTS = ['main', 'restricted', 'universe', 'multiverse'];

/** What the stand-in Ubuntu 24.04 image has installed: noble's release pocket, never upgraded. */
const INSTALLED: Array<[string, string, string]> = [
  ['bash', '5.2.21-2ubuntu4', 'amd64'],
  ['libc6', '2.39-0ubuntu8', 'amd64'],
  ['libssl3t64', '3.0.13-0ubuntu3', 'amd64'],
  ['openssl', '3.0.13-0ubuntu3', 'amd64'],
  ['python3-pip', '24.0+dfsg-1ubuntu1', 'all'],
  ['tzdata', '2024a-3ubuntu1', 'all'],
];

const NOBLE: MirrorPackage[] = [
  ...INSTALLED.filter(([name]) => name !== 'python3-pip').map(([name, version]) => ({ name, version })),
  { name: 'python3-pip', version: '24.0+dfsg-1ubuntu1', component: 'universe' },
];
const SECURITY: MirrorPackage[] = [
  { name: 'libc6', version: '2.39-0ubuntu8.3', source: 'glibc' },
  { name: 'libssl3t64', version: '3.0.13-0ubuntu3.4', source: 'openssl' },
  { name: 'openssl', version: '3.0.13-0ubuntu3.4' },
];
// Ubuntu copies every security upload into -updates too; -updates alone also carries the SRUs.
const UPDATES: MirrorPackage[] = [...SECURITY, { name: 'tzdata', version: '2024b-0ubuntu0.24.04' }, { name: 'python3-pip', version: '24.0+dfsg-1ubuntu1.1', component: 'universe' }];

const EXPECTED = [
  'security-update libc6 2.39-0ubuntu8.3 noble-security true',
  'security-update libssl3t64 3.0.13-0ubuntu3.4 noble-security true',
  'security-update openssl 3.0.13-0ubuntu3.4 noble-security true',
  'stable-update python3-pip 24.0+dfsg-1ubuntu1.1 noble-updates false',
  'stable-update tzdata 2024b-0ubuntu0.24.04 noble-updates false',
];

/**
 * The Ubuntu archive as an Ubuntu 24.04 host's apt names it: the archive (noble, -updates, -backports)
 * and the security archive (noble-security) on two different hosts, four components, `.xz` indexes
 * fetched by hash, `Origin: Ubuntu`, one keyring for both. Both stand in on loopback; imggate is
 * pointed at a stand-in apt directory and host os-release, with no feed named in imggate.yaml.
 */
describe('feeds for an Ubuntu image from the host apt sources (stand-in Ubuntu archive) @integration', function () {
  this.timeout(300_000);
  let archive: TestMirror;
  let security: TestMirror;
  let debian: TestMirror;
  let dir: string;
  let image: string;
  let keyring: string;
  const day = 86_400_000;
  const httpDate = (ms: number): string => new Date(ms).toUTCString();

  const osRelease = async (name: string, text: string): Promise<string> => {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return file;
  };

  /** An apt configuration directory; `files` maps a path under it to its text. */
  const aptDir = async (name: string, files: Record<string, string>): Promise<string> => {
    const apt = path.join(dir, name);
    await mkdir(path.join(apt, 'sources.list.d'), { recursive: true });
    for (const [file, text] of Object.entries(files)) await writeFile(path.join(apt, file), text);
    return apt;
  };

  const config = async (name: string, hostSources: string): Promise<string> => {
    const file = path.join(dir, `${name}.yaml`);
    await writeFile(file, `store:\n  dir: ${path.join(dir, `store-${name}`)}\nfeeds:\n  hostSources:${hostSources}\n`);
    return file;
  };

  const check = async (file: string): Promise<{ code: number; report: Report }> => {
    const r = await imggate(['check', '--format', 'json', '--no-attest', '--config', file, `oci:${image}:noble`]);
    assert.ok(r.stdout, r.stderr);
    return { code: r.code, report: JSON.parse(r.stdout) as Report };
  };
  const byCheck = (report: Report, check: string): Finding[] => report.findings.filter((f) => f.check === check);
  const outdated = (report: Report): string[] =>
    byCheck(report, 'outdated-package').map((f) => `${f.rule} ${f.package?.name} ${f.package?.fixedVersion} ${f.package?.fixedIn} ${f.blocking}`).sort();

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-feeds-ubuntu-'));
    const now = Date.now();
    const pocket = (date: number): SuiteOptions => ({ forms: ['', '.gz', '.xz'], unserved: [''], byHash: true, origin: 'Ubuntu', components: COMPONENTS, date: httpDate(date) });
    archive = await startDebianMirror(
      { noble: NOBLE, 'noble-updates': UPDATES, 'noble-backports': [] },
      { noble: pocket(now - 200 * day), 'noble-updates': pocket(now - day), 'noble-backports': pocket(now - day) },
      { path: 'ubuntu' },
    );
    security = await startDebianMirror({ 'noble-security': SECURITY }, { 'noble-security': pocket(now - day) }, { path: 'ubuntu' });
    // One keyring file holding both signing keys, as ubuntu-archive-keyring.gpg holds the archive's.
    keyring = path.join(dir, 'ubuntu-archive-keyring.gpg');
    await writeFile(keyring, Buffer.concat([await readFile(archive.keyring), await readFile(security.keyring)]));
    debian = await startDebianMirror(
      { bookworm: [{ name: 'bash', version: '5.2.15-2+b2' }], 'bookworm-updates': [], 'bookworm-security': [{ name: 'bash', version: '5.2.15-2+b7' }] },
      { bookworm: { origin: 'Debian' }, 'bookworm-updates': { origin: 'Debian' }, 'bookworm-security': { origin: 'Debian' } },
    );
    image = path.join(dir, 'image');
    const status = INSTALLED.map(([n, v, a]) => `Package: ${n}\nStatus: install ok installed\nPriority: required\nArchitecture: ${a}\nVersion: ${v}\n`).join('\n');
    const built = await buildImage({
      layers: [
        {
          entries: [
            { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
            {
              name: 'usr/lib/os-release',
              content:
                'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION="24.04.1 LTS (Noble Numbat)"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n' +
                'HOME_URL="https://www.ubuntu.com/"\nUBUNTU_CODENAME=noble\nLOGO=ubuntu-logo\n',
            },
            { name: 'var/lib/dpkg/status', content: status },
          ],
        },
      ],
    });
    await writeOciLayout(image, 'noble', built);
  });
  after(async () => {
    await archive?.stop();
    await security?.stop();
    await debian?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const forms: Array<{ name: string; files: () => Record<string, string> }> = [
    {
      // Ubuntu 24.04's own layout: sources.list left as a pointer, ubuntu.sources in deb822.
      name: 'deb822 ubuntu.sources',
      files: () => ({
        'sources.list': '# Ubuntu sources have moved to /etc/apt/sources.list.d/ubuntu.sources\n',
        'sources.list.d/ubuntu.sources':
          `Types: deb\nURIs: ${archive.url}/\nSuites: noble noble-updates noble-backports\nComponents: ${COMPONENTS.join(' ')}\nSigned-By: ${keyring}\n\n` +
          `Types: deb\nURIs: ${security.url}/\nSuites: noble-security\nComponents: ${COMPONENTS.join(' ')}\nSigned-By: ${keyring}\n`,
      }),
    },
    {
      // The one-line form of older Ubuntu hosts.
      name: 'one-line sources.list',
      files: () => ({
        'sources.list': [
          ...['noble', 'noble-updates', 'noble-backports'].map((s) => `deb [signed-by=${keyring}] ${archive.url}/ ${s} ${COMPONENTS.join(' ')}`),
          `deb [signed-by=${keyring}] ${security.url}/ noble-security ${COMPONENTS.join(' ')}`,
          `# deb-src ${archive.url}/ noble main`,
        ].join('\n'),
      }),
    },
  ];
  for (const form of forms) {
    it(`an Ubuntu 24.04 image on an Ubuntu host (${form.name}): noble, -updates and -security from their two hosts; outdated packages with the newest version and its suite`, async function () {
      const name = form.name.replace(/\W+/g, '-');
      const hostRelease = await osRelease(`os-release-${name}`, 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n');
      const apt = await aptDir(`apt-${name}`, form.files());
      const archiveBefore = archive.requests.length;
      const securityBefore = security.requests.length;
      const { code, report } = await check(await config(name, `\n    apt: ${apt}\n    osRelease: ${hostRelease}`));
      assert.equal(report.inventory?.os?.codename, 'noble');
      assert.deepEqual(byCheck(report, 'feed'), []);
      assert.deepEqual(outdated(report), EXPECTED);
      assert.equal(code, 1, 'a missed security update blocks');
      assert.deepEqual(
        report.feeds?.map((f) => `${f.sources[0]?.replace(archive.url, 'ARCHIVE').replace(security.url, 'SECURITY')} ${f.verified}`),
        ['ARCHIVE/dists/noble true', 'ARCHIVE/dists/noble-updates true', 'SECURITY/dists/noble-security true'],
      );
      const libc6 = byCheck(report, 'outdated-package').find((f) => f.package?.name === 'libc6');
      assert.match(libc6?.message ?? '', /newest 2\.39-0ubuntu8\.3 in noble-security \(2\.39-0ubuntu8\.3 in noble-security, 2\.39-0ubuntu8\.3 in noble-updates\); includes a security update/);
      const asked = (m: TestMirror, from: number): string[] => m.requests.slice(from);
      assert.deepEqual(asked(security, securityBefore).filter((p) => !p.startsWith('/ubuntu/dists/noble-security/')), [], 'the security host is asked for noble-security only');
      assert.ok(!asked(archive, archiveBefore).some((p) => p.includes('noble-security') || p.includes('noble-backports')), 'the archive host is never asked for -security, nor -backports');
      for (const [m, suite, from] of [[archive, 'noble', archiveBefore], [archive, 'noble-updates', archiveBefore], [security, 'noble-security', securityBefore]] as const) {
        for (const component of COMPONENTS) {
          assert.ok(asked(m, from).some((p) => p.startsWith(`/ubuntu/dists/${suite}/${component}/binary-amd64/by-hash/SHA256/`)), `${suite} ${component} read by hash`);
        }
      }
    });
  }

  it('an Ubuntu image whose host names no Ubuntu archive: a blocking finding that the outdated-package check did not run, never a pass', async function () {
    const debianRelease = await osRelease('os-release-debian', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n');
    const debianSources = await aptDir('apt-debian', {
      'sources.list.d/debian.sources': `Types: deb\nURIs: ${debian.url}\nSuites: bookworm bookworm-updates bookworm-security\nComponents: main\nSigned-By: ${debian.keyring}\n`,
    });
    const empty = await aptDir('apt-empty', {});
    const cases: Array<{ name: string; hostSources: string; expect: RegExp }> = [
      { name: 'debian-host', hostSources: `\n    apt: ${debianSources}\n    osRelease: ${debianRelease}`, expect: /no feed for noble .*name only http:\/\/127\.0\.0\.1:\d+\/debian, the archive of this host's Debian GNU\/Linux 12 \(bookworm\), not one for Ubuntu 24\.04/ },
      { name: 'no-sources', hostSources: `\n    apt: ${empty}\n    osRelease: ${debianRelease}`, expect: /no feed for noble .*name no distribution archive/ },
      { name: 'sources-off', hostSources: ' false', expect: /host's package sources are turned off/ },
    ];
    const debianBefore = debian.requests.length;
    for (const c of cases) {
      const { code, report } = await check(await config(c.name, c.hostSources));
      assert.equal(code, 2, `${c.name}: inconclusive, never a pass`);
      const feed = byCheck(report, 'feed');
      assert.ok(feed.some((f) => f.rule === 'no-feed' && f.blocking && /^outdated-package check did not run: /.test(f.message) && c.expect.test(f.message)), `${c.name}: ${JSON.stringify(feed)}`);
      assert.deepEqual(outdated(report), [], c.name);
      assert.deepEqual(report.feeds ?? [], [], c.name);
    }
    assert.deepEqual(debian.requests.slice(debianBefore), [], "a Debian archive is never asked for Ubuntu's suites");
  });
});
