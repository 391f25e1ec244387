import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { runOk } from './process.js';

export interface TestMirror {
  readonly url: string;
  /** A keyring (binary OpenPGP) holding the key that signed every InRelease. */
  readonly keyring: string;
  /** A keyring with an unrelated key, for the negative case. */
  readonly otherKeyring: string;
  /** Replace what the server answers for a path (tampering). */
  override(pathname: string, body: Buffer | undefined): void;
  stop(): Promise<void>;
}

/**
 * A small Debian-style archive served from fixture files on loopback: for each suite, InRelease
 * clearsigned by a key made here with the real gpg, and main/binary-amd64/Packages.gz listed in it
 * by SHA256, as the real archive does.
 */
export async function startDebianMirror(suites: Record<string, Array<{ name: string; version: string; source?: string }>>): Promise<TestMirror> {
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
  for (const [suite, packages] of Object.entries(suites)) {
    const index = packages.map((p) => `Package: ${p.name}\n${p.source ? `Source: ${p.source}\n` : ''}Version: ${p.version}\nArchitecture: amd64\nDescription: test\n`).join('\n');
    const gz = gzipSync(Buffer.from(index));
    const rel = 'main/binary-amd64/Packages.gz';
    files.set(`/debian/dists/${suite}/${rel}`, gz);
    const sha = createHash('sha256').update(gz).digest('hex');
    const release = `Origin: Test\nSuite: ${suite}\nCodename: ${suite}\nDate: Mon, 23 Nov 2026 00:00:00 UTC\nArchitectures: amd64\nComponents: main\nSHA256:\n ${sha} ${gz.length} ${rel}\n`;
    const unsigned = path.join(root, `${suite}.Release`);
    await writeFile(unsigned, release);
    const signed = path.join(root, `${suite}.InRelease`);
    await gpg(['--digest-algo', 'SHA256', '--clearsign', '--output', signed, unsigned]);
    files.set(`/debian/dists/${suite}/InRelease`, await readFile(signed));
  }
  const overrides = new Map<string, Buffer | undefined>();
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
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
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(root, { recursive: true, force: true });
    },
  };
}
