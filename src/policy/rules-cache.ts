import { cacheDir, readCacheEntry, sha256Hex, writeCacheEntry } from '../cache-file.js';
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

/** A secret pattern's longest match, its literal runs at bounded offsets, and the strings its matches require (redos.ts `patternShape`). */
export interface PatternFacts {
  readonly maxLength: number;
  readonly literals: ReadonlyArray<{ readonly text: string; readonly minBefore: number; readonly maxBefore: number }>;
  readonly required: ReadonlyArray<readonly string[]>;
  readonly prefixes: readonly string[] | null;
}

const isCount = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;

function isPatternFacts(p: unknown): p is PatternFacts {
  const f = p as PatternFacts;
  return (
    typeof f === 'object' && f !== null && isCount(f.maxLength) && Array.isArray(f.literals) &&
    f.literals.every((l) => typeof l?.text === 'string' && isCount(l.minBefore) && isCount(l.maxBefore) && l.minBefore <= l.maxBefore) &&
    Array.isArray(f.required) &&
    f.required.every((set) => Array.isArray(set) && set.every((text) => typeof text === 'string')) &&
    (f.prefixes === null || (Array.isArray(f.prefixes) && f.prefixes.every((text) => typeof text === 'string' && text.length > 0)))
  );
}

/** Bump when what a file's entry holds, or how it is validated, changes. */
const FORMAT = 4;

/** `$XDG_CACHE_HOME/imggate/rules` (`~/.cache/imggate/rules`). */
export function rulesCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return cacheDir('rules', env);
}

/** The entry's name: the file's role (its path under the rules directory), its bytes, and this imggate. */
export function cacheKey(relative: string, bytes: Buffer): string {
  return sha256Hex(`imggate ${VERSION} rules-cache ${FORMAT}\0${relative}\0`, bytes);
}

/** The entry for `key`, or undefined when there is none or it does not read back as written. */
export async function readCachedRuleFile(dir: string, key: string): Promise<CachedRuleFile | undefined> {
  const body = (await readCacheEntry(dir, key)) as CachedRuleFile | undefined;
  if (typeof body !== 'object' || body === null) return undefined;
  if (body.patterns !== undefined && !(Array.isArray(body.patterns) && body.patterns.every(isPatternFacts))) return undefined;
  return body;
}

/** Writes an entry whole; a cache that cannot be written only costs time. */
export function writeCachedRuleFile(dir: string, key: string, value: CachedRuleFile): Promise<void> {
  return writeCacheEntry(dir, key, value);
}
