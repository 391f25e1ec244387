import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Entries of imggate's own cache (`$XDG_CACHE_HOME/imggate/<kind>`, `~/.cache/…`): what parsing
 * and validating an input produced, named by a key the caller derives from the input's exact bytes,
 * so an entry is only ever used for those bytes. Each entry is written whole (write, then rename) and
 * carries its key and a checksum of its body: a damaged or foreign file reads as no entry. A cache
 * that cannot be read or written only costs time.
 */
export function cacheDir(kind: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache'), 'imggate', kind);
}

/** The SHA-256 of the parts one after another, in hex (a file's bytes are hashed where they are, not copied). */
export function sha256Hex(...parts: ReadonlyArray<string | Buffer>): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** The body stored under `key`, parsed; undefined when there is none or it does not read back as written. */
export async function readCacheEntry(dir: string, key: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path.join(dir, `${key}.json`), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const entry = JSON.parse(text) as { key?: unknown; sha256?: unknown; body?: unknown };
    if (entry.key !== key || typeof entry.body !== 'string' || entry.sha256 !== sha256Hex(entry.body)) return undefined;
    return JSON.parse(entry.body) as unknown;
  } catch {
    return undefined;
  }
}

/** Stores `value` (JSON) under `key`. */
export async function writeCacheEntry(dir: string, key: string, value: unknown): Promise<void> {
  const body = JSON.stringify(value);
  const file = path.join(dir, `${key}.json`);
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(tmp, JSON.stringify({ key, sha256: sha256Hex(body), body }), { mode: 0o600 });
    await rename(tmp, file);
  } catch {
    // Read-only home, full disk: the caller has its value; the next run computes it again.
  }
}
