import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Inventory } from '../packages/types.js';
import type { Finding } from '../report/types.js';
import type { LayerStats } from './engine.js';

/**
 * What a scan of one image found, kept by what determines it: the manifest digest (which pins the
 * config and every layer), the rules, the analyzers and their versions, imggate's version and the
 * limits a scan obeys. Nothing in it depends on feeds or the date (those are the detect stage's), so
 * a digest checked again needs no layer at all. A file that does not read back exactly as written is
 * ignored and the image scanned again.
 */
export interface ScanFacts {
  readonly findings: readonly Finding[];
  readonly inventory: Inventory | undefined;
  readonly layers: readonly LayerStats[];
}

export interface ScanCacheKey {
  readonly manifestDigest: string;
  readonly rulesDigest: string;
  readonly analyzers: ReadonlyArray<{ readonly id: string; readonly version: number }>;
  readonly imggate: string;
  readonly limits: Readonly<Record<string, number>>;
}

const SCHEMA = 'imggate.scan-cache/v1';

export const DEFAULT_SCAN_CACHE_BYTES = 512 * 1024 * 1024;

export function scanCacheId(key: ScanCacheKey): string {
  const canonical = JSON.stringify([key.manifestDigest, key.rulesDigest, key.analyzers.map((a) => `${a.id}@${a.version}`), key.imggate, Object.entries(key.limits).sort(([a], [b]) => a.localeCompare(b))]);
  return createHash('sha256').update(canonical).digest('hex');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function validFinding(f: unknown): boolean {
  return isObject(f) && typeof f['check'] === 'string' && typeof f['rule'] === 'string' && typeof f['severity'] === 'string' && typeof f['blocking'] === 'boolean' && typeof f['message'] === 'string';
}

function validFacts(v: unknown, id: string, layers: number): v is { facts: ScanFacts } {
  if (!isObject(v) || v['schema'] !== SCHEMA || v['id'] !== id || !isObject(v['facts'])) return false;
  const facts = v['facts'];
  if (!Array.isArray(facts['findings']) || !facts['findings'].every(validFinding)) return false;
  if (facts['inventory'] !== undefined && !(isObject(facts['inventory']) && Array.isArray(facts['inventory']['packages']))) return false;
  const stats = facts['layers'];
  return Array.isArray(stats) && stats.length === layers && stats.every((s) => isObject(s) && Number.isSafeInteger(s['index']) && Number.isSafeInteger(s['uncompressedSize']) && Number.isSafeInteger(s['entries']));
}

export class ScanCache {
  constructor(
    readonly dir: string,
    /** Bytes the cache may hold; the least recently used entries go first. */
    readonly maxBytes: number,
  ) {}

  #file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  /** The facts stored under `id`, or undefined (none, or a file that is not what was written: removed). */
  async get(id: string, layers: number): Promise<ScanFacts | undefined> {
    const file = this.#file(id);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') await rm(file, { force: true }).catch(() => undefined);
      return undefined;
    }
    if (!validFacts(parsed, id, layers)) {
      await rm(file, { force: true }).catch(() => undefined);
      return undefined;
    }
    // Recently used: eviction goes by modification time.
    const now = new Date();
    await utimes(file, now, now).catch(() => undefined);
    return parsed.facts;
  }

  /** Stores the facts (atomically: write, then rename) and evicts beyond `maxBytes`. Failures are not errors. */
  async put(id: string, facts: ScanFacts): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
      const tmp = path.join(this.dir, `.${id}.${randomBytes(6).toString('hex')}.tmp`);
      await writeFile(tmp, JSON.stringify({ schema: SCHEMA, id, savedAt: new Date().toISOString(), facts }));
      await rename(tmp, this.#file(id));
      await this.#evict();
    } catch {
      // A cache that cannot be written costs a rescan next time, nothing else.
    }
  }

  async #evict(): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.json'));
    const entries = (await Promise.all(names.map(async (n) => stat(path.join(this.dir, n)).then((s) => ({ n, size: s.size, mtime: s.mtimeMs }), () => undefined)))).filter((e) => e !== undefined);
    let total = entries.reduce((sum, e) => sum + e.size, 0);
    for (const e of entries.sort((a, b) => a.mtime - b.mtime)) {
      if (total <= this.maxBytes) break;
      await rm(path.join(this.dir, e.n), { force: true });
      total -= e.size;
    }
  }
}
