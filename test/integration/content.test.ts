import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import { createRequire } from 'node:module';
import { check } from '../../src/index.js';
import { loadRules, type RuleSet } from '../../src/policy/load-rules.js';
import { SecretMatcher } from '../../src/scan/analyzers/secrets/matcher.js';
import type { Report } from '../../src/report/types.js';
import { imggate } from '../harness/cli.js';
import { buildImage, pushImage, type ImageSpec } from '../harness/images.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import type { TestEntry } from '../helpers/tar-writer.js';
import { rulesWithoutFeeds } from '../harness/rules.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\ntoor:x:0:0:alias:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nops:x:1001:0::/home/ops:/bin/sh\nadm:x:1002:1002::/:/bin/sh\n';
const group = 'root:x:0:adm\nwheel:x:10:\napp:x:1000:\nadm:x:1002:\n';
const etc: TestEntry[] = [
  { name: 'etc/', type: 'dir' },
  { name: 'etc/passwd', content: passwd },
  { name: 'etc/group', content: group },
];

describe('content checks on images in a real registry @integration', function () {
  let registry: TestRegistry;
  let rules: RuleSet;
  let n = 0;
  let noFeedsRules = '';
  const checkImage = async (spec: ImageSpec, args: string[] = ['--format', 'json']): Promise<{ code: number; report: Report; stdout: string }> => {
    const image = await buildImage(spec);
    const ref = `${registry.host}/content/img${n++}:v1`;
    await pushImage(registry.host, ref.split('/').slice(1).join('/').split(':')[0] as string, 'v1', image);
    // Content checks only: offline, under the policy of a user without feeds (feeds have their own tests).
    const r = await imggate(['check', '--offline', '--rules', noFeedsRules, ...args, ref]);
    return { code: r.code, report: (args.includes('json') ? JSON.parse(r.stdout) : undefined) as Report, stdout: r.stdout };
  };

  before(async function () {
    registry = await startRegistry();
    rules = await loadRules();
    noFeedsRules = await rulesWithoutFeeds();
  });
  after(async () => registry?.stop());

  describe('root USER, resolved as the runtime does', function () {
    const cases: Array<[string, number, string | undefined]> = [
      ['', 1, 'root-user'],
      ['root', 1, 'root-user'],
      ['0', 1, 'root-user'],
      ['0:0', 1, 'root-user'],
      ['root:wheel', 1, 'root-user'],
      ['toor', 1, 'root-user'],
      ['app', 0, undefined],
      ['1000:1000', 0, undefined],
      // runc gives a numeric uid missing from /etc/passwd the group 0, and so does containerd.
      ['4242', 0, 'root-group'],
      ['app:root', 0, 'root-group'],
      ['ops', 0, 'root-group'],
      // /etc/group lists adm in root: runc gives it gid 0 as a supplementary group.
      ['adm', 0, 'root-group'],
      ['adm:adm', 0, undefined],
      ['ghost', 1, 'user-not-found'],
      ['app:nogroup', 1, 'user-not-found'],
    ];
    for (const [user, code, rule] of cases) {
      it(`USER ${JSON.stringify(user)} → exit ${code}${rule ? ` (${rule})` : ''}`, async function () {
        const { code: got, report } = await checkImage({ user, layers: [{ entries: etc }] });
        assert.equal(got, code, JSON.stringify(report.findings));
        const found = report.findings.filter((f) => f.check === 'root-user').map((f) => f.rule);
        assert.deepEqual(found, rule ? [rule] : []);
      });
    }
  });

  describe('setuid, capabilities and PATH', function () {
    it('blocks an unpackaged setuid helper but not the same file listed by dpkg, nor one deleted later', async function () {
      const { code, report } = await checkImage({
        layers: [
          {
            entries: [
              ...etc,
              { name: 'usr/bin/passwd', content: 'ELF', mode: 0o4755 },
              { name: 'var/lib/dpkg/info/passwd.list', content: '/.\n/usr\n/usr/bin\n/usr/bin/passwd\n' },
              // md5 of 'ELF': the database vouches for the content, not only the name.
              { name: 'var/lib/dpkg/info/passwd.md5sums', content: 'b61b2d6c6fa62903b882aaa53452c111  usr/bin/passwd\n' },
              { name: 'usr/local/bin/helper', content: 'ELF', mode: 0o4755 },
              { name: 'opt/tool', content: 'ELF', mode: 0o2755 },
            ],
          },
          { entries: [{ name: 'opt/.wh.tool' }] },
        ],
      });
      assert.equal(code, 1);
      const by = (p: string) => report.findings.find((f) => f.path === p);
      assert.equal(by('/usr/bin/passwd')?.rule, 'setuid-packaged');
      assert.equal(by('/usr/bin/passwd')?.blocking, false);
      assert.equal(by('/usr/local/bin/helper')?.rule, 'setuid-unpackaged');
      assert.equal(by('/usr/local/bin/helper')?.blocking, true);
      assert.equal(by('/opt/tool')?.severity, 'info');
      assert.equal(by('/opt/tool')?.inFinalFilesystem, false);
    });

    it('reads apk’s database as well', async function () {
      const { code, report } = await checkImage({
        layers: [{ entries: [...etc, { name: 'bin/bbsuid', content: 'ELF', mode: 0o4755 }, { name: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.22.2\n' }, { name: 'lib/apk/db/installed', content: 'P:busybox-suid\nV:1.36\nF:bin\nR:bbsuid\nZ:Q1nfTWP+2Wdl54Odk5Ta9a0tePeXg=\n\n' }] }],
      });
      assert.equal(code, 0);
      assert.equal(report.findings.find((f) => f.path === '/bin/bbsuid')?.rule, 'setuid-packaged');
    });

    it('reports file capabilities from PAX xattrs, and world-writable PATH entries', async function () {
      const cap = Buffer.alloc(20);
      cap.writeUInt32LE(0x02000001, 0);
      cap.writeUInt32LE((1 << 13) | (1 << 10), 4);
      const { code, report } = await checkImage({
        layers: [
          {
            entries: [
              ...etc,
              { name: 'usr/bin/ping', content: 'ELF', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': cap } },
              { name: 'usr/local/bin/', type: 'dir', mode: 0o777 },
              { name: 'usr/bin/tool', content: '#!/bin/sh', mode: 0o777 },
              { name: 'tmp/', type: 'dir', mode: 0o1777 },
            ],
          },
        ],
      });
      assert.equal(code, 1);
      const capFinding = report.findings.find((f) => f.check === 'capability');
      assert.match(capFinding?.message ?? '', /cap_net_bind_service, cap_net_raw \(effective\)/);
      const ww = report.findings.filter((f) => f.check === 'world-writable').map((f) => f.path).sort();
      assert.deepEqual(ww, ['/usr/bin/tool', '/usr/local/bin'], '/tmp is not in PATH');
    });

    it('blocks a root-equivalent capability that is only inheritable (granted where the runtime sets an inheritable set, CVE-2022-24769)', async function () {
      const cap = Buffer.alloc(20);
      cap.writeUInt32LE(0x02000001, 0);
      cap.writeUInt32LE(1 << 7, 8); // cap_setuid in the inheritable set only
      const { code, report } = await checkImage({ user: 'app', layers: [{ entries: [...etc, { name: 'usr/local/bin/up', content: 'ELF', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': cap } }] }] });
      assert.equal(code, 1);
      const found = report.findings.filter((f) => f.check === 'capability');
      assert.deepEqual(found.map((f) => [f.rule, f.blocking]), [['file-capability-root', true]]);
      assert.match(found[0]?.message ?? '', /none \(inheritable: cap_setuid\) \(effective\)/);
    });

    it('looks up a relative or empty PATH entry from the working directory', async function () {
      const layers = [{ entries: [...etc, { name: 'tmp/', type: 'dir' as const, mode: 0o1777 }, { name: 'srv/', type: 'dir' as const, mode: 0o755 }] }];
      for (const [path, workdir, found] of [
        ['/usr/bin::/bin', '/tmp', ['/tmp']],
        ['/usr/bin:.', '/tmp', ['/tmp']],
        ['/usr/bin:../tmp', '/srv', ['/tmp']],
        ['/usr/bin:.', '/srv', []],
      ] as const) {
        const { report } = await checkImage({ env: [`PATH=${path}`], extraConfig: { WorkingDir: workdir }, layers });
        const ww = report.findings.filter((f) => f.check === 'world-writable');
        assert.deepEqual(ww.map((f) => f.path), found, `PATH=${path} in ${workdir}: ${JSON.stringify(ww.map((f) => f.message))}`);
      }
    });
  });

  describe('secrets', function () {
    const examples = (): Array<{ rule: string; text: string; secret: string }> =>
      rules.secretRules.map((rule) => {
        const text = rule.examples.positive[0] as string;
        const m = new SecretMatcher([rule]).scan(text)[0];
        assert.ok(m, rule.id);
        return { rule: rule.id, text, secret: text.slice(m.index, m.index + m.length) };
      });

    it('finds every rule’s secret in files, in files a later layer deleted, in ENV and in history, and never prints a value', async function () {
      const all = examples();
      const files: TestEntry[] = all.map((e) => ({ name: `app/config/${e.rule}.conf`, content: `# config\n${e.text}\n` }));
      const deleted: TestEntry[] = all.map((e) => ({ name: `build/tmp/${e.rule}.conf`, content: e.text }));
      const envRules = ['aws-access-key-id', 'github-pat-classic', 'generic-secret-assignment', 'url-password', 'stripe-secret-key'];
      const env = all.filter((e) => envRules.includes(e.rule)).map((e, i) => `SECRET_${i}=${e.text}`);
      const historyRules = ['npm-access-token', 'slack-webhook', 'gitlab-pat'];
      const history = all.filter((e) => historyRules.includes(e.rule)).map((e) => `ARG TOKEN=${e.text}`);
      const named: TestEntry[] = rules.fileRules.map((r) => ({ name: `home/app/${r.names[0]}`, content: 'x' }));
      const image = await buildImage({
        user: 'app',
        env: ['PATH=/usr/bin:/bin', ...env],
        emptyHistory: history,
        layers: [
          { entries: [...etc, ...files, ...named] },
          { entries: deleted, createdBy: 'COPY build /build' },
          { entries: [{ name: 'build/.wh.tmp' }], createdBy: 'RUN rm -rf /build/tmp' },
        ],
      });
      await pushImage(registry.host, 'content/secrets', 'v1', image);
      const ref = `${registry.host}/content/secrets:v1`;
      const json = await imggate(['check', '--format', 'json', ref]);
      const sarif = await imggate(['check', '--format', 'sarif', ref]);
      const table = await imggate(['check', ref]);
      assert.equal(json.code, 1);
      const report = JSON.parse(json.stdout) as Report;
      const secrets = report.findings.filter((f) => f.check === 'secret');
      for (const e of all) {
        const inFile = secrets.find((f) => f.rule === e.rule && f.path === `/app/config/${e.rule}.conf`);
        assert.ok(inFile, `${e.rule} not found in its file`);
        assert.equal(inFile.inFinalFilesystem, true);
        assert.equal(inFile.layer, image.layers[0]?.digest);
        assert.ok((inFile.line ?? 0) >= 2, `${e.rule} line ${inFile.line}`);
        assert.match(inFile.fingerprint ?? '', /^sha256:[a-f0-9]{64}$/);
        const gone = secrets.find((f) => f.rule === e.rule && f.path === `/build/tmp/${e.rule}.conf`);
        assert.ok(gone, `${e.rule} not found in the deleted file`);
        assert.equal(gone.inFinalFilesystem, false);
        assert.equal(gone.blocking, inFile.blocking, 'a deleted secret still ships: deleting it does not make it pass');
        if (inFile.severity === 'high' || inFile.severity === 'critical') assert.equal(gone.blocking, true);
        assert.equal(gone.createdBy, 'COPY build /build');
      }
      for (const r of envRules) assert.ok(secrets.some((f) => f.rule === r && /ENV SECRET_/.test(f.message)), `${r} in ENV`);
      for (const r of historyRules) assert.ok(secrets.some((f) => f.rule === r && /build history/.test(f.message)), `${r} in history`);
      for (const r of rules.fileRules) assert.ok(secrets.some((f) => f.rule === r.id && f.path === `/home/app/${r.names[0]}`), `${r.id} by name`);
      for (const output of [json.stdout, sarif.stdout, table.stdout, json.stderr, sarif.stderr, table.stderr]) {
        for (const e of all) assert.ok(!output.includes(e.secret), `the ${e.rule} value leaked into an output`);
      }
    });

    it('finds a secret in the manifest’s annotations, and never prints it', async function () {
      const token = `ghp_${'Zq7Rk2mVx9'.repeat(3)}LpT4wZ`;
      const { code, report } = await checkImage({
        user: 'app',
        annotations: { 'org.opencontainers.image.source': `https://ci:${token}@git.example.com/team/app.git`, 'org.opencontainers.image.revision': 'abc123' },
        layers: [{ entries: [...etc] }],
      });
      assert.equal(code, 1);
      const secrets = report.findings.filter((f) => f.check === 'secret');
      assert.ok(secrets.some((f) => f.rule === 'github-pat-classic' && f.blocking && f.message.endsWith(`in the image manifest's field annotations["org.opencontainers.image.source"]`)), JSON.stringify(secrets.map((f) => f.message)));
      assert.ok(!JSON.stringify(report).includes(token.slice(4)));
    });

    it('lets known example values pass, and a token in a file its package vouches for (reported, not blocking)', async function () {
      // Only a package database vouches for a place now (issue 11): the same README unpackaged, or a
      // token after a NUL byte, is found and blocks (test/scan/analyzers/secrets/).
      const readme = `token: ghp_${'a1B2c3D4e5'.repeat(3)}abcdef\n`;
      const { code, report } = await checkImage({
        user: 'app',
        layers: [
          {
            entries: [
              ...etc,
              { name: 'app/docs.md', content: 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n' },
              { name: 'app/.env.example', content: 'DATABASE_URL=postgres://app:${DB_PASSWORD}@db/app\nAPI_KEY=your-api-key-here\n' },
              { name: 'var/lib/dpkg/info/tool.list', content: '/.\n/usr/share/doc/tool/README\n' },
              { name: 'var/lib/dpkg/info/tool.md5sums', content: `${createHash('md5').update(readme).digest('hex')}  usr/share/doc/tool/README\n` },
              { name: 'usr/share/doc/tool/README', content: readme },
            ],
          },
        ],
      });
      assert.equal(code, 0, JSON.stringify(report.findings, null, 1));
      const secrets = report.findings.filter((f) => f.check === 'secret');
      assert.ok(secrets.some((f) => /\(rule github-pat-classic\), in a file packaged by tool and unchanged$/.test(f.message)), JSON.stringify(secrets));
      assert.deepEqual(new Set(secrets.map((f) => JSON.stringify([f.rule, f.path, f.severity, f.blocking]))), new Set([JSON.stringify(['secret-packaged', '/usr/share/doc/tool/README', 'low', false])]));
    });
  });

  describe('hygiene and output', function () {
    it('reports CIS image hygiene items at info level without blocking', async function () {
      const { code, report } = await checkImage({
        user: 'app',
        emptyHistory: ['ADD https://example.com/tool.tgz /opt/'],
        extraConfig: { ExposedPorts: { '22/tcp': {}, '8080/tcp': {} } },
        layers: [{ entries: [...etc, { name: 'usr/bin/sudo', content: 'ELF', mode: 0o755 }, { name: 'var/cache/apt/archives/curl.deb', content: 'deb' }, { name: 'var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease', content: 'x' }] }],
      });
      assert.equal(code, 0);
      const hygiene = report.findings.filter((f) => f.check === 'hygiene');
      assert.deepEqual(hygiene.map((f) => f.rule).sort(), ['add-remote-url', 'no-healthcheck', 'package-cache', 'package-cache', 'ssh-port-exposed', 'sudo-installed']);
      assert.ok(hygiene.every((f) => f.severity === 'info' && !f.blocking));
      const healthy = await checkImage({ user: 'app', extraConfig: { Healthcheck: { Test: ['CMD', 'true'] } }, layers: [{ entries: etc }] });
      assert.ok(!healthy.report.findings.some((f) => f.rule === 'no-healthcheck'));
    });

    it('writes SARIF 2.1.0 that validates against the official schema', async function () {
      const require = createRequire(import.meta.url);
      const schemaPath = require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
      const schema = JSON.parse(await readFile(schemaPath, 'utf8')) as object;
      // The schema's language-tag pattern is not valid under the u flag; formats are not what is tested.
      const ajv = new AjvDraft04.default({ allErrors: true, strict: false, unicodeRegExp: false, validateFormats: false, logger: false });
      const validate = ajv.compile(schema);
      const { stdout, code } = await checkImage({ user: '', layers: [{ entries: [...etc, { name: 'app/.env', content: 'GITHUB_TOKEN=ghp_aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zC4\n' }, { name: 'usr/local/bin/x', content: 'x', mode: 0o4755 }] }] }, ['--format', 'sarif']);
      assert.equal(code, 1);
      const log = JSON.parse(stdout) as { runs: Array<{ results: Array<{ ruleId: string; level: string; locations: Array<{ physicalLocation?: { artifactLocation: { uri: string } } }> }>; tool: { driver: { rules: Array<{ id: string }> } } }> };
      assert.ok(validate(log), JSON.stringify(validate.errors, null, 1));
      const results = log.runs[0]?.results ?? [];
      const secret = results.find((r) => r.ruleId === 'github-pat-classic');
      assert.equal(secret?.level, 'error');
      assert.equal(secret?.locations[0]?.physicalLocation?.artifactLocation.uri, 'app/.env');
      assert.ok(log.runs[0]?.tool.driver.rules.some((r) => r.id === 'root-user'));
    });

    it('applies a rules directory given with --rules, and `imggate rules check` validates one', async function () {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-rules-it-'));
      try {
        const { cp, writeFile } = await import('node:fs/promises');
        await cp(path.resolve('rules'), dir, { recursive: true });
        await writeFile(path.join(dir, 'policy.yaml'), 'version: 1\nblockAt: critical\nexceptions:\n  - check: root-user\n    reason: legacy image, migration tracked in OPS-1\n    expires: 2999-12-31\n');
        const strict = await checkImage({ user: '', layers: [{ entries: etc }] });
        assert.equal(strict.code, 1);
        const relaxed = await checkImage({ user: '', layers: [{ entries: etc }] }, ['--format', 'json', '--rules', dir]);
        assert.equal(relaxed.code, 0);
        assert.equal(relaxed.report.findings.find((f) => f.rule === 'root-user')?.exception?.reason, 'legacy image, migration tracked in OPS-1');
        const ok = await imggate(['rules', 'check', dir]);
        assert.equal(ok.code, 0, ok.stderr);
        assert.match(ok.stdout, /0 failing/);
        await writeFile(path.join(dir, 'policy.yaml'), 'version: 1\nblockAt: sometimes\n');
        const bad = await imggate(['rules', 'check', dir]);
        assert.equal(bad.code, 1);
        assert.match(bad.stderr, /policy\.yaml is not a valid rule file:\n {2}blockAt/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
