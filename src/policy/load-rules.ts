import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type * as z from '../zod.js';
import { ImggateError } from '../errors.js';
import type { Severity } from '../report/types.js';
import { globToRegExp } from './glob.js';
import { DEFAULT_RULES_DIR } from './rules-dir.js';
import { loadTrust, NO_TRUST_POLICY, type TrustPolicy } from './load-trust.js';
import { cacheKey, readCachedRuleFile, rulesCacheDir, writeCachedRuleFile, type PatternFacts } from './rules-cache.js';
import type { LiteralRun } from './redos.js';
import type { ChecksFile, EolFile, FileRuleSpec, PolicyFile, SecretRuleSpec, SecretsFile } from './rules-schema.js';

export { DEFAULT_RULES_DIR };

export interface CompiledSecretRule extends SecretRuleSpec {
  readonly regex: RegExp;
  /** Longest text the pattern can match: the window it runs in around a keyword. */
  readonly maxLength: number;
  /** Literal runs every match holds, each at a bounded distance from the match's start (the matcher's anchors). */
  readonly literals: readonly LiteralRun[];
  /** The strings (lowercased) every match begins with, when few and known: with keywords at their starts, another anchor. */
  readonly prefixes: readonly string[] | null;
  readonly allowRegexes: readonly RegExp[];
  readonly file: string;
}

export interface RuleInfo {
  readonly id: string;
  readonly check: string;
  readonly title: string;
  readonly severity: Severity;
  readonly description?: string | undefined;
}

/** Everything under a rules directory, validated and compiled. */
export interface RuleSet {
  readonly dir: string;
  /** sha256 over every rule file's name and bytes: which policy was in force. */
  readonly digest: string;
  readonly policy: PolicyFile;
  readonly secretRules: readonly CompiledSecretRule[];
  readonly fileRules: readonly FileRuleSpec[];
  readonly skipPaths: ReadonlyArray<{ readonly glob: string; readonly reason: string; readonly regex: RegExp }>;
  /** Metadata of every rule, for reports and SARIF. */
  readonly info: ReadonlyMap<string, RuleInfo>;
  /** Distribution end-of-life dates (`eol.yaml`). */
  readonly eol: EolFile['distros'];
  /** Who must have signed what (`trust.yaml`); without the file, nothing is verified. */
  readonly trust: TrustPolicy;
}

function problems(error: z.core.$ZodError, file: string, prefix = ''): ImggateError {
  const lines = error.issues.map((i) => `  ${prefix}${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  return new ImggateError('CONFIG_INVALID', `${file} is not a valid rule file:\n${lines.join('\n')}`);
}

async function readYaml(file: string, bytes: Buffer): Promise<unknown> {
  const { parse } = await import('yaml');
  try {
    return parse(bytes.toString('utf8')) ?? {};
  } catch (err) {
    throw new ImggateError('CONFIG_INVALID', `${file}: not valid YAML: ${(err as Error).message}`, { cause: err });
  }
}

function compile(source: string, flags: string, file: string, where: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    throw new ImggateError('CONFIG_INVALID', `${file}: ${where}: not a valid regular expression: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The structural half of the linear-time guarantee, checked on every load: every repetition bounded
 * (so a match has a known longest length and the matcher a known window), no backreference, and no
 * repetition of a repetition or an alternation. `imggate rules check` adds the ReDoS checker's verdict.
 */
async function boundedShape(source: string, flags: string, file: string, where: string): Promise<PatternFacts> {
  const { patternShape } = await import('./redos.js');
  let shape;
  try {
    shape = patternShape(source, flags);
  } catch (err) {
    throw new ImggateError('CONFIG_INVALID', `${file}: ${where}: cannot be read as a regular expression: ${(err as Error).message}`, { cause: err });
  }
  if (shape.problems.length > 0) {
    throw new ImggateError('CONFIG_INVALID', `${file}: ${where}: may backtrack super-linearly: ${shape.problems.join('; ')}`);
  }
  return { maxLength: shape.maxLength, literals: shape.literals.filter((run) => Number.isFinite(run.maxBefore)), required: shape.required, prefixes: shape.prefixes };
}

/**
 * The matcher runs a rule only where one of its keywords occurs (in any case), so a pattern that can
 * match text holding none of them would let that secret through. Refused when no set of strings the
 * pattern requires (`requiredStrings`) has a keyword in each of its strings.
 */
function checkKeywordsCover(required: PatternFacts['required'], keywords: readonly string[], file: string, where: string): void {
  const lower = keywords.map((k) => k.toLowerCase());
  const holds = (text: string): boolean => lower.some((k) => text.includes(k));
  if (required.some((set) => set.every(holds))) return;
  const gap = required.flatMap((set) => set.filter((text) => !holds(text)))[0];
  throw new ImggateError(
    'CONFIG_INVALID',
    gap === undefined
      ? `${file}: ${where}: no literal text is certain to occur in a match, so no keyword can find every match; the matcher runs a rule only where one of its keywords occurs`
      : `${file}: ${where}: can match text holding none of the rule's keywords (a match holding "${gap}", say); the matcher runs a rule only where one of its keywords occurs, so add keywords until every match holds one`,
  );
}

type Schemas = typeof import('./rules-schema.js');

/** The rule files a rules directory may hold, by their path under it. */
function roleOf(relative: string): 'policy' | 'checks' | 'trust' | 'eol' | 'secrets' | undefined {
  const normal = path.normalize(relative);
  if (normal === 'policy.yaml') return 'policy';
  if (normal === 'checks.yaml') return 'checks';
  if (normal === 'trust.yaml') return 'trust';
  if (normal === 'eol.yaml') return 'eol';
  return relative.startsWith('secrets') ? 'secrets' : undefined;
}

/**
 * Loads and validates a rules directory: `policy.yaml`, `checks.yaml` and `secrets/*.yaml`. Every
 * problem names the file, the field and what is wrong; duplicate rule ids across files are refused.
 */
export async function loadRules(dir: string = DEFAULT_RULES_DIR): Promise<RuleSet> {
  const hash = createHash('sha256');
  const files: string[] = [];
  const list = async (sub: string): Promise<string[]> =>
    (await readdir(path.join(dir, sub)).catch(() => [] as string[])).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort().map((f) => path.join(sub, f));
  files.push(...(await list('.')), ...(await list('secrets')));
  if (!files.some((f) => path.normalize(f) === 'policy.yaml')) {
    throw new ImggateError('CONFIG_NOT_FOUND', `${dir} has no policy.yaml; is it a rules directory?`);
  }
  // A rules directory copied without its secret rules would find no secret and say nothing: fail closed.
  if (!(await stat(path.join(dir, 'secrets')).then((s) => s.isDirectory(), () => false))) {
    throw new ImggateError('CONFIG_INVALID', `${dir} has no secrets/ folder, so no secret would be found; copy the secret rules along, or create an empty secrets/ to scan without them`);
  }
  let policy: PolicyFile | undefined;
  const secretRules: CompiledSecretRule[] = [];
  const fileRules: FileRuleSpec[] = [];
  const skipPaths: Array<{ glob: string; reason: string; regex: RegExp }> = [];
  const info = new Map<string, RuleInfo>();
  let eol: EolFile['distros'] = [];
  let trust: TrustPolicy = NO_TRUST_POLICY;
  const addInfo = (rule: RuleInfo, file: string): void => {
    if (info.has(rule.id)) throw new ImggateError('CONFIG_INVALID', `${file}: rule id "${rule.id}" is defined twice`);
    info.set(rule.id, rule);
  };
  const cacheDir = rulesCacheDir();
  // Every file and its cache entry are read at once: a check's start waits on one round of reads, not one per file.
  const reads = await Promise.all(
    files.map(async (relative) => {
      const bytes = await readFile(path.join(dir, relative));
      // A file read before, byte for byte, by this imggate: its validated data without YAML, zod or regexp-tree.
      const key = cacheKey(relative, bytes);
      return { relative, bytes, key, cached: await readCachedRuleFile(cacheDir, key) };
    }),
  );
  for (const { relative, bytes, key, cached } of reads) {
    const file = path.join(dir, relative);
    hash.update(`${relative}\0${bytes.length}\0`).update(bytes);
    const role = roleOf(relative);
    if (!role) {
      throw new ImggateError('CONFIG_INVALID', `${file}: unknown rule file ${path.basename(relative)} (expected policy.yaml, checks.yaml, eol.yaml, trust.yaml or secrets/*.yaml)`);
    }
    const validated = async <T>(schema: (s: Schemas) => z.ZodMiniType<T>): Promise<T> => {
      if (cached) return cached.data as T;
      const parsed = schema(await import('./rules-schema.js')).safeParse(await readYaml(file, bytes));
      if (!parsed.success) throw problems(parsed.error, file);
      return parsed.data;
    };
    let data: unknown;
    let patterns: PatternFacts[] | undefined;
    if (role === 'policy') {
      policy = await validated((s) => s.policySchema);
      data = policy;
    } else if (role === 'checks') {
      const checks: ChecksFile = await validated((s) => s.checksFileSchema);
      for (const rule of checks.rules) addInfo(rule, file);
      data = checks;
    } else if (role === 'trust') {
      // The trust policy is validated by loadTrust, which also reads (and hashes) the keys it names.
      data = cached ? cached.data : await readYaml(file, bytes);
      trust = await loadTrust(file, data, hash);
    } else if (role === 'eol') {
      const parsed: EolFile = await validated((s) => s.eolSchema);
      eol = parsed.distros;
      data = parsed;
    } else {
      const secrets: SecretsFile = await validated((s) => s.secretsFileSchema);
      patterns = [];
      for (const [i, rule] of (secrets.rules ?? []).entries()) {
        const where = `rules.${i}.pattern (${rule.id})`;
        const regex = compile(rule.pattern, `g${rule.flags ?? ''}`, file, where);
        const shape = cached?.patterns?.[i] ?? (await boundedShape(rule.pattern, `g${rule.flags ?? ''}`, file, where));
        checkKeywordsCover(shape.required, rule.keywords, file, where);
        patterns.push(shape);
        const allowRegexes = (rule.allowPatterns ?? []).map((p, j) => compile(p, 'i', file, `rules.${i}.allowPatterns.${j} (${rule.id})`));
        secretRules.push({ ...rule, regex, maxLength: shape.maxLength, literals: shape.literals, prefixes: shape.prefixes, allowRegexes, file });
        addInfo({ id: rule.id, check: 'secret', title: rule.title, severity: rule.severity, description: rule.description }, file);
      }
      for (const rule of secrets.files ?? []) {
        fileRules.push(rule);
        addInfo({ id: rule.id, check: 'secret', title: rule.title, severity: rule.severity, description: rule.description }, file);
      }
      for (const skip of secrets.skipPaths ?? []) skipPaths.push({ ...skip, regex: globToRegExp(skip.glob) });
      data = secrets;
    }
    // Kept only once the whole file was accepted: a file with an error is read, and refused, every time.
    if (!cached) await writeCachedRuleFile(cacheDir, key, { data, ...(patterns ? { patterns } : {}) });
  }
  const digest = `sha256:${hash.digest('hex')}`;
  const ruleSet: RuleSet = { dir, digest, policy: policy as PolicyFile, secretRules, fileRules, skipPaths, info, eol, trust };
  for (const name of Object.keys(ruleSet.policy.rules ?? {})) {
    if (!info.has(name)) throw new ImggateError('CONFIG_INVALID', `${path.join(dir, 'policy.yaml')}: rules.${name}: no such rule`);
  }
  return ruleSet;
}
