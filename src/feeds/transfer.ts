import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import type { ConfigFile } from '../config/schema.js';
import { describeError, ImggateError, isImggateError } from '../errors.js';
import { fetchSuite } from './debian.js';
import { withFeedLock } from './lock.js';
import { hostKeyrings } from './resolve.js';
import { loadSuiteSnapshot, saveSuiteFiles, saveSuiteSnapshot, suiteSnapshotSchema, type SuiteSnapshot } from './store.js';

/**
 * Writes every Debian-style snapshot of the store, with the signed InRelease and the index files it was
 * made from, into one tar for an air-gapped machine. Returns how many snapshots it holds.
 */
export async function exportFeeds(storeDir: string, file: string): Promise<number> {
  const root = path.join(storeDir, 'feeds', 'debian');
  const entries: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(path.join(root, rel)).catch(() => [] as string[])) {
      const r = path.join(rel, name);
      if (name.endsWith('.json') && existsSync(path.join(root, r.replace(/\.json$/, '.files')))) entries.push(r, r.replace(/\.json$/, '.files'));
      else if (!name.endsWith('.files') && (await stat(path.join(root, r))).isDirectory()) await walk(r);
    }
  };
  await walk('');
  if (!entries.length) throw new ImggateError('NOT_FOUND', `${root} holds no snapshot with its signed files: run imggate feeds update (or a check) first`);
  await tar.c({ gzip: true, file, cwd: root, portable: true }, entries);
  return entries.length / 2;
}

export interface ImportResult {
  readonly suite: string;
  readonly packages?: number;
  readonly digest?: string;
  readonly verified?: boolean;
  readonly date?: string;
  /** The store holds a newer snapshot of this suite (its archive date): it was kept, the export's was not imported. */
  readonly kept?: string;
  readonly error?: string;
}

/** Serves an exported suite's files as the archive would (`dists/<suite>/…`) on loopback, for the ordinary fetch to verify. */
async function serveFiles(dir: string, suite: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const prefix = `/dists/${suite}/`;
    const file = p.startsWith(prefix) ? path.join(dir, path.normalize(p.slice(prefix.length))) : '';
    if (!file.startsWith(`${dir}${path.sep}`)) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-length': body.length }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** One suite of an export, rebuilt from its signed files; or why it is not imported. */
type Rebuilt =
  | { readonly suite: string; readonly release: string; readonly snapshot: SuiteSnapshot; readonly files: ReadonlyMap<string, Buffer>; readonly previous: SuiteSnapshot | undefined }
  | { readonly suite: string; readonly error: string; readonly integrity: boolean };

/** Where a snapshot's package list and the one rebuilt from its signed indexes differ (none when they agree). */
function packageDifferences(listed: Readonly<Record<string, string>>, signed: Readonly<Record<string, string>>): string[] {
  const names = [...new Set([...Object.keys(listed), ...Object.keys(signed)])].sort();
  return names.filter((n) => listed[n] !== signed[n]).map((n) => `${n}: ${listed[n] ?? 'absent'} in the snapshot, ${signed[n] ?? 'absent'} in the indexes`);
}

async function rebuild(dir: string, rel: string, storeDir: string, options: { config: ConfigFile; now: Date }): Promise<Rebuilt> {
  const release = path.dirname(rel);
  let exported: SuiteSnapshot;
  try {
    exported = suiteSnapshotSchema.parse(JSON.parse(await readFile(path.join(dir, rel), 'utf8')));
  } catch (err) {
    return { suite: rel, error: `not a feed snapshot: ${(err as Error).message}`, integrity: true };
  }
  const suite = exported.suite;
  const codename = suite.replace(/-(updates|security)$/, '');
  const host = options.config.feeds.hostSources === false ? undefined : (options.config.feeds.hostSources ?? {});
  const configured = (options.config.feeds.debian ?? []).find((f) => f.codename === codename)?.keyring;
  const keyrings = configured ?? (host ? await hostKeyrings(host.apt ?? '/etc/apt', codename, (exported.origin ?? 'debian').toLowerCase(), host.osRelease) : []);
  if (typeof keyrings !== 'string' && !keyrings.length) {
    return { suite, error: 'no keyring on this machine to verify its InRelease with (feeds.debian[].keyring, or the host apt keyrings)', integrity: true };
  }
  const indexes = exported.indexes ?? [];
  const components = [...new Set(indexes.map((i) => i.path.split('/')[0] ?? ''))];
  const architectures = [...new Set(indexes.map((i) => /binary-([^/]+)\//.exec(i.path)?.[1] ?? ''))];
  const server = await serveFiles(path.join(dir, rel.replace(/\.json$/, '.files')), suite);
  try {
    const files = new Map<string, Buffer>();
    // No replay check here: an export older than what the store holds is not an attack on this
    // machine, only not worth importing; that is decided below on the verified dates.
    const rebuilt = await fetchSuite({ mirror: server.url, codename, components, architectures, keyring: keyrings }, server.url, suite, {
      now: options.now,
      keep: (f, data) => files.set(f, data),
    });
    if (rebuilt.digest !== exported.digest) throw new ImggateError('DIGEST_MISMATCH', `the export's InRelease hashes to ${rebuilt.digest}, its snapshot says ${exported.digest}`);
    const differences = packageDifferences(exported.packages, rebuilt.packages);
    if (differences.length) {
      throw new ImggateError('DIGEST_MISMATCH', `the export's snapshot of ${suite} does not list what its signed indexes do (${differences.slice(0, 5).join('; ')}${differences.length > 5 ? `; ${differences.length - 5} more` : ''})`);
    }
    const previous = await loadSuiteSnapshot(storeDir, release, suite).catch(() => undefined);
    // Named by the mirror it was fetched from, and fetched when the exporting machine fetched it:
    // maxAge counts from then, not from the import.
    return { suite, release, snapshot: { ...rebuilt, mirror: exported.mirror, fetchedAt: exported.fetchedAt }, files, previous };
  } catch (err) {
    // An expired or future-dated InRelease is the archive's own word about time, not a forgery: that
    // suite alone is left out. Anything else means the export is not what the archive signed.
    return { suite, error: describeError(err), integrity: !(isImggateError(err) && err.code === 'FEED_STALE') };
  } finally {
    await server.close();
  }
}

/** True when `held` is a later state of the archive than `incoming` (by their signed `Date:`). */
function isNewer(held: SuiteSnapshot | undefined, incoming: SuiteSnapshot): held is SuiteSnapshot & { date: string } {
  const a = Date.parse(held?.date ?? '');
  const b = Date.parse(incoming.date ?? '');
  return !Number.isNaN(a) && !Number.isNaN(b) && a > b;
}

/**
 * Imports an export: each snapshot is rebuilt from its files by the same code that fetches from an
 * archive — InRelease verified with the keyrings a check on this machine would use (imggate.yaml's,
 * else the host's apt sources' Signed-By, else its apt keyrings), Valid-Until checked, every index
 * against the Release's SHA256, the listed packages against the indexes. One suite that fails that
 * refuses the whole export (it is not what the archive signed), and nothing is imported. A suite
 * older than the one the store holds is not imported (the newer is kept); an expired one is refused.
 */
export async function importFeeds(storeDir: string, file: string, options: { config: ConfigFile; now: Date }): Promise<ImportResult[]> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'imggate-feeds-import-'));
  try {
    // node-tar refuses absolute paths and `..` by default: an export cannot write outside tmp.
    await tar.x({ file, cwd: tmp, strict: true });
    const walk = async (rel: string): Promise<string[]> => {
      const out: string[] = [];
      for (const name of await readdir(path.join(tmp, rel))) {
        const r = path.join(rel, name);
        if (name.endsWith('.json')) out.push(r);
        else if (!name.endsWith('.files') && (await stat(path.join(tmp, r))).isDirectory()) out.push(...(await walk(r)));
      }
      return out;
    };
    const rels = (await walk('')).sort();
    if (!rels.length) throw new ImggateError('NOT_FOUND', `${file} holds no feed snapshot`);
    // Under the feed lock: the snapshots held are compared and replaced with no fetch in between.
    return await withFeedLock(storeDir, async () => {
      const rebuilt: Rebuilt[] = [];
      for (const rel of rels) rebuilt.push(await rebuild(tmp, rel, storeDir, options));
      const forged = rebuilt.filter((r) => 'error' in r && r.integrity).map((r) => r.suite);
      if (forged.length) {
        return rebuilt.map((r) => ({ suite: r.suite, error: 'error' in r ? r.error : `the export is refused whole: ${forged.join(', ')} did not verify` }));
      }
      const results: ImportResult[] = [];
      for (const r of rebuilt) {
        if ('error' in r) {
          results.push({ suite: r.suite, error: r.error });
        } else if (isNewer(r.previous, r.snapshot)) {
          results.push({ suite: r.suite, kept: r.previous.date, ...(r.snapshot.date ? { date: r.snapshot.date } : {}) });
        } else {
          await saveSuiteFiles(storeDir, r.release, r.snapshot, r.files);
          await saveSuiteSnapshot(storeDir, r.release, r.snapshot);
          const s = r.snapshot;
          results.push({ suite: r.suite, packages: Object.keys(s.packages).length, digest: s.digest, verified: s.verified, ...(s.date ? { date: s.date } : {}) });
        }
      }
      return results;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
