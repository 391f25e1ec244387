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
  /** Components published, each with its own index (default ['main']); a package goes in its `component`, else the first. */
  readonly components?: readonly string[];
}

/** One binary package of a stand-in index. */
export interface MirrorPackage {
  readonly name: string;
  readonly version: string;
  readonly source?: string;
  readonly component?: string;
}

export interface MirrorOptions {
  /** The archive's path on the server (default `debian`: `http://127.0.0.1:<port>/debian`). */
  readonly path?: string;
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
  publish(suite: string, packages: readonly MirrorPackage[], options?: SuiteOptions): Promise<void>;
  /** Clearsigns `text` with the archive's key, or with the unrelated one (a forged InRelease). */
  clearsign(text: string, key?: 'archive' | 'other'): Promise<Buffer>;
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
 * clearsigned by a key made here with the real gpg, and `<component>/binary-amd64/Packages.gz` listed
 * in it by SHA256, as the real archive does.
 */
export async function startDebianMirror(
  suites: Record<string, readonly MirrorPackage[]>,
  suiteOptions: Record<string, SuiteOptions> = {},
  mirrorOptions: MirrorOptions = {},
): Promise<TestMirror> {
  const archive = `/${mirrorOptions.path ?? 'debian'}`;
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
  let signed = 0;
  const clearsign = async (text: string, key: 'archive' | 'other' = 'archive'): Promise<Buffer> => {
    const unsigned = path.join(root, `release-${++signed}`);
    await writeFile(unsigned, text);
    await gpg(['--digest-algo', 'SHA256', '--clearsign', '--output', `${unsigned}.asc`, unsigned], key === 'archive' ? home : otherHome);
    return readFile(`${unsigned}.asc`);
  };
  const publish = async (suite: string, packages: readonly MirrorPackage[], options: SuiteOptions = {}): Promise<void> => {
    const components = options.components ?? ['main'];
    // A republished suite replaces every file of the old one, as an archive update does.
    for (const key of [...files.keys()]) if (key.startsWith(`${archive}/dists/${suite}/`)) files.delete(key);
    const forms = options.forms ?? ['.gz'];
    const lines: string[] = [];
    for (const component of components) {
      const index = Buffer.from(
        packages
          .filter((p) => (p.component ?? components[0]) === component)
          .map((p) => `Package: ${p.name}\n${p.source ? `Source: ${p.source}\n` : ''}Version: ${p.version}\nArchitecture: amd64\nDescription: test\n`)
          .join('\n'),
      );
      for (const form of forms) {
        const body = form === '.gz' ? gzipSync(index) : form === '.xz' ? await xz(index) : index;
        const rel = `${component}/binary-amd64/Packages${form}`;
        const sha = createHash('sha256').update(body).digest('hex');
        lines.push(` ${sha} ${body.length} ${rel}`);
        if (!options.unserved?.includes(form)) {
          if (options.byHash) files.set(`${archive}/dists/${suite}/${component}/binary-amd64/by-hash/SHA256/${sha}`, body);
          else files.set(`${archive}/dists/${suite}/${rel}`, body);
        }
      }
    }
    const release =
      `Origin: ${options.origin ?? 'Test'}\nSuite: ${suite}\nCodename: ${suite}\nDate: ${options.date ?? 'Mon, 23 Nov 2026 00:00:00 UTC'}\n` +
      `${options.validUntil ? `Valid-Until: ${options.validUntil}\n` : ''}${options.byHash ? 'Acquire-By-Hash: yes\n' : ''}Architectures: amd64\nComponents: ${components.join(' ')}\nSHA256:\n${lines.join('\n')}\n`;
    files.set(`${archive}/dists/${suite}/InRelease`, await clearsign(release));
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
    url: `http://127.0.0.1:${port}${archive}`,
    keyring,
    otherKeyring,
    override: (p, body) => overrides.set(new URL(p, 'http://x').pathname, body),
    publish,
    clearsign,
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
