import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { VERSION } from '../version.js';

/**
 * What reading one rule file produced, kept so the next process need not read it again: the file's
 * data as its schema validated it, and each secret pattern's longest match. YAML parsing, the zod
 * schemas and the pattern analysis (regexp-tree) are most of what loading the rules costs a short
 * `imggate check`; a file's entry is used only for exactly the bytes it was made from.
 */
export interface CachedRuleFile {
  readonly data: unknown;
  /** What the analysis of each secret rule's pattern found, in the file's order. */
  readonly patterns?: readonly PatternFacts[];
}

/** A secret pattern's longest match and its literal runs at bounded offsets (redos.ts `patternShape`). */
export interface PatternFacts {
  readonly maxLength: number;
  readonly literals: ReadonlyArray<{ readonly text: string; readonly minBefore: number; readonly maxBefore: number }>;
}

const isCount = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;

function isPatternFacts(p: unknown): p is PatternFacts {
  const f = p as PatternFacts;
  return (
    typeof f === 'object' && f !== null && isCount(f.maxLength) && Array.isArray(f.literals) &&
    f.literals.every((l) => typeof l?.text === 'string' && isCount(l.minBefore) && isCount(l.maxBefore) && l.minBefore <= l.maxBefore)
  );
}

/** Bump when what a file's entry holds, or how it is validated, changes. */
const FORMAT = 2;

/** `$XDG_CACHE_HOME/imggate/rules` (`~/.cache/imggate/rules`). */
export function rulesCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache'), 'imggate', 'rules');
}

/** The entry's name: the file's role (its path under the rules directory), its bytes, and this imggate. */
export function cacheKey(relative: string, bytes: Buffer): string {
  return createHash('sha256').update(`imggate ${VERSION} rules-cache ${FORMAT}\0${relative}\0`).update(bytes).digest('hex');
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The entry for `key`, or undefined when there is none or it does not read back as written. */
export async function readCachedRuleFile(dir: string, key: string): Promise<CachedRuleFile | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, `${key}.json`), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const entry = JSON.parse(text) as { key?: unknown; sha256?: unknown; body?: unknown };
    if (entry.key !== key || typeof entry.body !== 'string' || entry.sha256 !== sha256(entry.body)) return undefined;
    const body = JSON.parse(entry.body) as CachedRuleFile;
    if (body.patterns !== undefined && !(Array.isArray(body.patterns) && body.patterns.every(isPatternFacts))) return undefined;
    return body;
  } catch {
    return undefined;
  }
}

/** Writes an entry whole (write, then rename); a cache that cannot be written only costs time. */
export async function writeCachedRuleFile(dir: string, key: string, value: CachedRuleFile): Promise<void> {
  const body = JSON.stringify(value);
  const file = path.join(dir, `${key}.json`);
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(tmp, JSON.stringify({ key, sha256: sha256(body), body }), { mode: 0o600 });
    await rename(tmp, file);
  } catch {
    // Read-only home, full disk: the rules were loaded; the next run reads the files again.
  }
}
