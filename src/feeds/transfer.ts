import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import type { ConfigFile } from '../config/schema.js';
import { ImggateError, isImggateError } from '../errors.js';
import { fetchSuite } from './debian.js';
import { defaultKeyrings } from './resolve.js';
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

/**
 * Imports an export: each snapshot is rebuilt from its files by the same code that fetches from an
 * archive — InRelease verified with this machine's keyrings (imggate.yaml's, else the host's apt
 * keyrings), Valid-Until and replay checks against what this store holds, every index against the
 * Release's SHA256 — so a tampered export is refused, never trusted for its package lists.
 */
export async function importFeeds(storeDir: string, file: string, options: { config: ConfigFile; now: Date }): Promise<ImportResult[]> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'imggate-feeds-import-'));
  try {
    // node-tar refuses absolute paths and `..` by default: an export cannot write outside tmp.
    await tar.x({ file, cwd: tmp, strict: true });
    const results: ImportResult[] = [];
    const walk = async (rel: string): Promise<string[]> => {
      const out: string[] = [];
      for (const name of await readdir(path.join(tmp, rel))) {
        const r = path.join(rel, name);
        if (name.endsWith('.json')) out.push(r);
        else if (!name.endsWith('.files') && (await stat(path.join(tmp, r))).isDirectory()) out.push(...(await walk(r)));
      }
      return out;
    };
    const host = options.config.feeds.hostSources === false ? undefined : (options.config.feeds.hostSources ?? {});
    for (const rel of (await walk('')).sort()) {
      const release = path.dirname(rel);
      let exported: SuiteSnapshot;
      try {
        exported = suiteSnapshotSchema.parse(JSON.parse(await readFile(path.join(tmp, rel), 'utf8')));
      } catch (err) {
        results.push({ suite: rel, error: `not a feed snapshot: ${(err as Error).message}` });
        continue;
      }
      const suite = exported.suite;
      const codename = suite.replace(/-(updates|security)$/, '');
      const configured = (options.config.feeds.debian ?? []).find((f) => f.codename === codename)?.keyring;
      const keyrings = configured ?? (host ? (await defaultKeyrings(host.apt ?? '/etc/apt', (exported.origin ?? 'debian').toLowerCase())).filter((k) => existsSync(k)) : []);
      if (typeof keyrings !== 'string' && !keyrings.length) {
        results.push({ suite, error: 'no keyring on this machine to verify its InRelease with (feeds.debian[].keyring, or the host apt keyrings)' });
        continue;
      }
      const indexes = exported.indexes ?? [];
      const components = [...new Set(indexes.map((i) => i.path.split('/')[0] ?? ''))];
      const architectures = [...new Set(indexes.map((i) => /binary-([^/]+)\//.exec(i.path)?.[1] ?? ''))];
      const server = await serveFiles(path.join(tmp, rel.replace(/\.json$/, '.files')), suite);
      try {
        const previous = await loadSuiteSnapshot(storeDir, release, suite).catch(() => undefined);
        const files = new Map<string, Buffer>();
        const rebuilt = await fetchSuite({ mirror: server.url, codename, components, architectures, keyring: keyrings }, server.url, suite, {
          now: options.now,
          previous,
          keep: (f, data) => files.set(f, data),
        });
        if (rebuilt.digest !== exported.digest) throw new ImggateError('DIGEST_MISMATCH', `the export's InRelease hashes to ${rebuilt.digest}, its snapshot says ${exported.digest}`);
        // Named by the mirror it was fetched from, and fetched when the exporting machine fetched it:
        // maxAge counts from then, not from the import.
        const snapshot: SuiteSnapshot = { ...rebuilt, mirror: exported.mirror, fetchedAt: exported.fetchedAt };
        await saveSuiteFiles(storeDir, release, snapshot, files);
        await saveSuiteSnapshot(storeDir, release, snapshot);
        results.push({ suite, packages: Object.keys(snapshot.packages).length, digest: snapshot.digest, verified: snapshot.verified, ...(snapshot.date ? { date: snapshot.date } : {}) });
      } catch (err) {
        results.push({ suite, error: `${isImggateError(err) ? `${err.code}: ` : ''}${(err as Error).message}` });
      } finally {
        await server.close();
      }
    }
    return results;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
