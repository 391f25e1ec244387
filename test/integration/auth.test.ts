import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { check } from '../../src/index.js';
import { imggate } from '../harness/cli.js';
import { buildImage, pushImage } from '../harness/images.js';
import { RegistryClient } from '../../src/registry/client.js';
import { StaticCredentials } from '../../src/registry/auth/credentials.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { startTokenServer, type TokenServer } from '../harness/token-server.js';

const image = () => buildImage({ layers: [{ entries: [{ name: 'etc/motd', content: 'hi' }] }] });

describe('registry authentication @integration', function () {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'imggate-auth-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  describe('Basic (htpasswd)', function () {
    let registry: TestRegistry;
    let digest: string;
    before(async function () {
      registry = await startRegistry({ kind: 'htpasswd', users: { alice: 's3cret' } });
      const creds = new StaticCredentials(new Map([[registry.host, { kind: 'basic', username: 'alice', password: 's3cret' }]]));
      digest = await pushImage(registry.host, 'private/app', 'v1', await image(), new RegistryClient(registry.host, { credentials: creds }));
    });
    after(async () => registry?.stop());

    it('is refused without credentials', async function () {
      const r = await imggate(['check', `${registry.host}/private/app:v1`]);
      assert.equal(r.code, 2);
      assert.match(r.stdout, /AUTH_FAILED: .*requires authentication/);
    });

    it('is refused with a wrong password', async function () {
      const r = await imggate(['check', '--creds', 'alice:wrong', `${registry.host}/private/app:v1`]);
      assert.equal(r.code, 2);
      assert.match(r.stdout, /AUTH_FAILED/);
    });

    it('works with --creds, with --password-stdin, and with IMGGATE_USERNAME/PASSWORD', async function () {
      const a = await imggate(['check', '--format', 'json', '--creds', 'alice:s3cret', `${registry.host}/private/app:v1`]);
      assert.equal(a.code, 0, a.stdout);
      assert.equal((JSON.parse(a.stdout) as { image: { digest: string } }).image.digest, digest);
      const b = await imggate(['check', '--username', 'alice', '--password-stdin', `${registry.host}/private/app:v1`], { input: 's3cret\n' });
      assert.equal(b.code, 0, b.stdout);
      const c = await imggate(['check', `${registry.host}/private/app:v1`], { env: { IMGGATE_USERNAME: 'alice', IMGGATE_PASSWORD: 's3cret' } });
      assert.equal(c.code, 0, c.stdout);
    });

    it('reads auths from a Docker config.json', async function () {
      const dir = path.join(tmp, 'docker-auths');
      await writeDockerConfig(dir, { auths: { [`http://${registry.host}/v1/`]: { auth: Buffer.from('alice:s3cret').toString('base64') } } });
      const r = await imggate(['check', `${registry.host}/private/app:v1`], { env: { DOCKER_CONFIG: dir } });
      assert.equal(r.code, 0, r.stdout);
    });

    it('runs a credential helper named in credHelpers', async function () {
      const dir = path.join(tmp, 'docker-helper');
      await writeDockerConfig(dir, { credHelpers: { [registry.host]: 'imggatetest' } });
      const bin = path.join(tmp, 'bin');
      const { mkdir } = await import('node:fs/promises');
      await mkdir(bin, { recursive: true });
      const helper = path.join(bin, 'docker-credential-imggatetest');
      // A real helper program speaking the docker-credential-helpers protocol: host on stdin, JSON out.
      await writeFile(helper, `#!/bin/sh\nread host\n[ "$1" = get ] && [ "$host" = "${registry.host}" ] && printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}' "$host" && exit 0\necho "credentials not found in native keychain"; exit 1\n`);
      await chmod(helper, 0o755);
      const r = await imggate(['check', `${registry.host}/private/app:v1`], { env: { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env['PATH'] ?? ''}` } });
      assert.equal(r.code, 0, r.stdout + r.stderr);
    });
  });

  it('pulls a public image anonymously when config.json names a helper that is not installed', async function () {
    const open = await startRegistry();
    try {
      await pushImage(open.host, 'public/app', 'v1', await image());
      const dir = path.join(tmp, 'docker-missing-helper');
      await writeDockerConfig(dir, { credsStore: 'not-installed-anywhere' });
      const r = await imggate(['check', `${open.host}/public/app:v1`], { env: { DOCKER_CONFIG: dir } });
      assert.equal(r.code, 0, r.stdout + r.stderr);
    } finally {
      await open.stop();
    }
  });

  describe('Bearer (token server)', function () {
    let tokens: TokenServer;
    let registry: TestRegistry;
    before(async function () {
      tokens = await startTokenServer({ bob: 'hunter2' });
      registry = await startRegistry({ kind: 'token', realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle });
      const creds = new StaticCredentials(new Map([[registry.host, { kind: 'basic', username: 'bob', password: 'hunter2' }]]));
      await pushImage(registry.host, 'secure/app', 'v1', await image(), new RegistryClient(registry.host, { credentials: creds }));
    });
    after(async () => {
      await registry?.stop();
      await tokens?.stop();
    });

    it('gets a scoped token with credentials and pulls', async function () {
      tokens.requests.length = 0;
      const report = await check(`${registry.host}/secure/app:v1`, { credentials: { username: 'bob', password: 'hunter2' } });
      assert.equal(report.verdict, 'pass', report.error?.message);
      assert.ok(tokens.requests.some((r) => r.user === 'bob' && r.scope.includes('repository:secure/app:pull')));
    });

    it('is refused anonymously (a token with no access) and with a wrong password', async function () {
      const anonymous = await check(`${registry.host}/secure/app:v1`);
      assert.equal(anonymous.verdict, 'error');
      assert.equal(anonymous.error?.code, 'AUTH_FAILED');
      const wrong = await check(`${registry.host}/secure/app:v1`, { credentials: { username: 'bob', password: 'nope' } });
      assert.equal(wrong.error?.code, 'AUTH_FAILED');
      assert.match(wrong.error?.message ?? '', /refused the credentials/);
    });
  });
});

async function writeDockerConfig(dir: string, config: object): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
}
