import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { runOk } from './process.js';

/** How a suite is published: which index forms exist and are listed, and the Release's dates. */
export interface SuiteOptions {
  /** Forms written and listed in the Release (default ['.gz']); `xz` made with the real xz tool. */
  readonly forms?: ReadonlyArray<'.xz' | '.gz' | ''>;
  /** Forms listed in the Release but not served (the real archive lists `Packages` and serves only `.xz`). */
  readonly unserved?: ReadonlyArray<'.xz' | '.gz' | ''>;
  readonly byHash?: boolean;
  readonly date?: string;
  readonly validUntil?: string;
  readonly origin?: string;
}


export interface TestMirror {
  readonly url: string;
  /** A keyring (binary OpenPGP) holding the key that signed every InRelease. */
  readonly keyring: string;
  /** A keyring with an unrelated key, for the negative case. */
  readonly otherKeyring: string;
  /** Replace what the server answers for a path (tampering). */
  override(pathname: string, body: Buffer | undefined): void;
  /** (Re)publishes a suite: new indexes and a newly signed InRelease. */
  publish(suite: string, packages: Array<{ name: string; version: string; source?: string }>, options?: SuiteOptions): Promise<void>;
  /** Paths asked for, in order. */
  readonly requests: string[];
  /** Stops serving a file (an index that vanishes). */
  remove(pathname: string): void;
  stop(): Promise<void>;
}

async function xz(data: Buffer): Promise<Buffer> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn('xz', ['-c', '-6']);
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`xz exited ${code}`))));
    child.stdin.end(data);
  });
}

/**
 * A small Debian-style archive served from fixture files on loopback: for each suite, InRelease
 * clearsigned by a key made here with the real gpg, and main/binary-amd64/Packages.gz listed in it
 * by SHA256, as the real archive does.
 */
export async function startDebianMirror(
  suites: Record<string, Array<{ name: string; version: string; source?: string }>>,
  suiteOptions: Record<string, SuiteOptions> = {},
): Promise<TestMirror> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'imggate-mirror-'));
  const home = path.join(root, 'gnupg');
  await mkdir(home, { mode: 0o700 });
  const gpg = (args: string[], gnupgHome = home): Promise<string> => runOk('gpg', ['--batch', '--quiet', '--homedir', gnupgHome, '--pinentry-mode', 'loopback', '--passphrase', '', ...args]);
  await gpg(['--quick-gen-key', 'imggate test archive <archive@test.invalid>', 'ed25519', 'sign', '1d']);
  const keyring = path.join(root, 'archive-keyring.gpg');
  await gpg(['--output', keyring, '--export']);
  const otherHome = path.join(root, 'other');
  await mkdir(otherHome, { mode: 0o700 });
  await gpg(['--quick-gen-key', 'someone else <other@test.invalid>', 'ed25519', 'sign', '1d'], otherHome);
  const otherKeyring = path.join(root, 'other-keyring.gpg');
  await gpg(['--output', otherKeyring, '--export'], otherHome);

  const files = new Map<string, Buffer>();
  const publish = async (suite: string, packages: Array<{ name: string; version: string; source?: string }>, options: SuiteOptions = {}): Promise<void> => {
    const index = Buffer.from(packages.map((p) => `Package: ${p.name}\n${p.source ? `Source: ${p.source}\n` : ''}Version: ${p.version}\nArchitecture: amd64\nDescription: test\n`).join('\n'));
    // A republished suite replaces every file of the old one, as an archive update does.
    for (const key of [...files.keys()]) if (key.startsWith(`/debian/dists/${suite}/`)) files.delete(key);
    const forms = options.forms ?? ['.gz'];
    const lines: string[] = [];
    for (const form of forms) {
      const body = form === '.gz' ? gzipSync(index) : form === '.xz' ? await xz(index) : index;
      const rel = `main/binary-amd64/Packages${form}`;
      const sha = createHash('sha256').update(body).digest('hex');
      lines.push(` ${sha} ${body.length} ${rel}`);
      if (!options.unserved?.includes(form)) {
        if (options.byHash) files.set(`/debian/dists/${suite}/main/binary-amd64/by-hash/SHA256/${sha}`, body);
        else files.set(`/debian/dists/${suite}/${rel}`, body);
      }
    }
    const release =
      `Origin: ${options.origin ?? 'Test'}\nSuite: ${suite}\nCodename: ${suite}\nDate: ${options.date ?? 'Mon, 23 Nov 2026 00:00:00 UTC'}\n` +
      `${options.validUntil ? `Valid-Until: ${options.validUntil}\n` : ''}${options.byHash ? 'Acquire-By-Hash: yes\n' : ''}Architectures: amd64\nComponents: main\nSHA256:\n${lines.join('\n')}\n`;
    const unsigned = path.join(root, `${suite}.Release`);
    await writeFile(unsigned, release);
    const signed = path.join(root, `${suite}.InRelease`);
    await rm(signed, { force: true });
    await gpg(['--digest-algo', 'SHA256', '--clearsign', '--output', signed, unsigned]);
    files.set(`/debian/dists/${suite}/InRelease`, await readFile(signed));
  };
  for (const [suite, packages] of Object.entries(suites)) await publish(suite, packages, suiteOptions[suite]);
  const requests: string[] = [];
  const overrides = new Map<string, Buffer | undefined>();
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(p);
    const body = overrides.has(p) ? overrides.get(p) : files.get(p);
    if (!body) res.writeHead(404).end();
    else res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/debian`,
    keyring,
    otherKeyring,
    override: (p, body) => overrides.set(new URL(p, 'http://x').pathname, body),
    publish,
    requests,
    remove: (p) => {
      files.delete(new URL(p, 'http://x').pathname);
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(root, { recursive: true, force: true });
    },
  };
}
