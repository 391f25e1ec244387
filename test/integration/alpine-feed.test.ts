import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Report } from '../../src/report/types.js';
import { imggate } from '../harness/cli.js';
import { buildImage, writeOciLayout } from '../harness/images.js';
import { runOk } from '../harness/process.js';

/**
 * An Alpine repository on loopback. The index is packed by Python's tarfile and gzip, and signed with
 * the real openssl over the index's gzip member, as abuild-sign does; no Alpine tool runs here.
 */
describe('Alpine APKINDEX feeds @integration', function () {
  let dir: string;
  let server: http.Server;
  let url: string;

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-apk-'));
    const keys = path.join(dir, 'keys');
    const otherKeys = path.join(dir, 'other-keys');
    await mkdir(keys);
    await mkdir(otherKeys);
    await runOk('openssl', ['genrsa', '-out', path.join(dir, 'priv.pem'), '2048']);
    await runOk('openssl', ['rsa', '-in', path.join(dir, 'priv.pem'), '-pubout', '-out', path.join(keys, 'test@example-1.rsa.pub')]);
    await runOk('openssl', ['genrsa', '-out', path.join(dir, 'other.pem'), '2048']);
    await runOk('openssl', ['rsa', '-in', path.join(dir, 'other.pem'), '-pubout', '-out', path.join(otherKeys, 'test@example-1.rsa.pub')]);
    const index = 'C:Q1abc=\nP:musl\nV:1.2.4-r3\nA:x86_64\no:musl\n\nP:busybox\nV:1.36.1-r15\no:busybox\n\n';
    await writeFile(path.join(dir, 'APKINDEX'), index);
    const pack = (out: string, names: string[]): Promise<string> =>
      runOk('python3', ['-c', 'import tarfile,sys\nwith tarfile.open(sys.argv[1], "w:gz") as t:\n  [t.add(n, arcname=n.split("/")[-1]) for n in sys.argv[2:]]', out, ...names], { cwd: dir });
    await pack(path.join(dir, 'index.tar.gz'), [path.join(dir, 'APKINDEX')]);
    await runOk('openssl', ['dgst', '-sha1', '-sign', path.join(dir, 'priv.pem'), '-out', path.join(dir, '.SIGN.RSA.test@example-1.rsa.pub'), path.join(dir, 'index.tar.gz')]);
    await pack(path.join(dir, 'sign.tar.gz'), [path.join(dir, '.SIGN.RSA.test@example-1.rsa.pub')]);
    const apkindex = Buffer.concat([await readFile(path.join(dir, 'sign.tar.gz')), await readFile(path.join(dir, 'index.tar.gz'))]);
    server = http.createServer((req, res) => {
      if (req.url === '/alpine/v3.19/main/x86_64/APKINDEX.tar.gz') res.writeHead(200, { 'content-length': apkindex.length }).end(apkindex);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/alpine`;
    const image = await buildImage({
      layers: [
        {
          entries: [
            { name: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n' },
            { name: 'lib/apk/db/installed', content: 'P:musl\nV:1.2.4-r2\no:musl\n\nP:busybox\nV:1.36.1-r15\no:busybox\n\n' },
          ],
        },
      ],
    });
    await writeOciLayout(path.join(dir, 'image'), 'v1', image);
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const config = async (keys: string): Promise<string> => {
    const file = path.join(dir, `imggate-${path.basename(keys)}.yaml`);
    await writeFile(file, `store:\n  dir: ${path.join(dir, 'store')}\nfeeds:\n  alpine:\n    - mirror: ${url}\n      branch: v3.19\n      repositories: [main]\n      keys: ${keys}\n`);
    return file;
  };

  it('verifies the index signature, stores the branch, and reports the newer package', async function () {
    const file = await config(path.join(dir, 'keys'));
    const update = await imggate(['feeds', 'update', '--config', file]);
    assert.equal(update.code, 0, update.stderr);
    assert.match(update.stdout, /^alpine v3\.19: 2 packages, APKINDEX sha256:[a-f0-9]{64}, signature verified/m);
    const r = await imggate(['check', '--format', 'json', '--config', file, `oci:${path.join(dir, 'image')}:v1`]);
    const report = JSON.parse(r.stdout) as Report;
    const outdated = report.findings.filter((f) => f.check === 'outdated-package');
    assert.deepEqual(outdated.map((f) => `${f.package?.name} ${f.package?.version} → ${f.package?.fixedVersion}`), ['musl 1.2.4-r2 → 1.2.4-r3']);
    assert.equal(report.feeds?.find((f) => f.kind === 'alpine')?.verified, true);
  });

  it('refuses an index signed by a key other than the one configured', async function () {
    const update = await imggate(['feeds', 'update', '--config', await config(path.join(dir, 'other-keys'))]);
    assert.equal(update.code, 2);
    assert.match(update.stderr, /AUTH_FAILED: APKINDEX signature does not verify/);
  });
});
