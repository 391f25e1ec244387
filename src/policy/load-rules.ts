import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ImggateError } from '../errors.js';
import type { Severity } from '../report/types.js';
import { globToRegExp } from './glob.js';
import { DEFAULT_RULES_DIR } from './rules-dir.js';
import { patternShape } from './redos.js';
import { loadTrust, NO_TRUST_POLICY, type TrustPolicy } from './load-trust.js';
import { eolSchema, policySchema, secretsFileSchema, type EolFile, type FileRuleSpec, type PolicyFile, type SecretRuleSpec } from './rules-schema.js';

export { DEFAULT_RULES_DIR };

export interface CompiledSecretRule extends SecretRuleSpec {
  readonly regex: RegExp;
  /** Longest text the pattern can match: the window it runs in around a keyword. */
  readonly maxLength: number;
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

const checksFileSchema = z.strictObject({
  version: z.literal(1),
  rules: z.array(
    z.strictObject({
      id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
      check: z.string().min(1),
      title: z.string().min(3),
      severity: z.enum(['critical', 'high', 'medium', 'low', 'info']),
      description: z.string().optional(),
    }),
  ),
});

function problems(error: z.ZodError, file: string, prefix = ''): ImggateError {
  const lines = error.issues.map((i) => `  ${prefix}${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  return new ImggateError('CONFIG_INVALID', `${file} is not a valid rule file:\n${lines.join('\n')}`);
}

async function readYaml(file: string): Promise<{ data: unknown; bytes: Buffer }> {
  const bytes = await readFile(file);
  try {
    return { data: parseYaml(bytes.toString('utf8')) ?? {}, bytes };
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
function boundedLength(source: string, flags: string, file: string, where: string): number {
  let shape;
  try {
    shape = patternShape(source, flags);
  } catch (err) {
    throw new ImggateError('CONFIG_INVALID', `${file}: ${where}: cannot be read as a regular expression: ${(err as Error).message}`, { cause: err });
  }
  if (shape.problems.length > 0) {
    throw new ImggateError('CONFIG_INVALID', `${file}: ${where}: may backtrack super-linearly: ${shape.problems.join('; ')}`);
  }
  return shape.maxLength;
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
  for (const relative of files) {
    const file = path.join(dir, relative);
    const { data, bytes } = await readYaml(file);
    hash.update(`${relative}\0${bytes.length}\0`).update(bytes);
    const base = path.basename(relative);
    if (path.normalize(relative) === 'policy.yaml') {
      const parsed = policySchema.safeParse(data);
      if (!parsed.success) throw problems(parsed.error, file);
      policy = parsed.data;
    } else if (path.normalize(relative) === 'checks.yaml') {
      const parsed = checksFileSchema.safeParse(data);
      if (!parsed.success) throw problems(parsed.error, file);
      for (const rule of parsed.data.rules) addInfo(rule, file);
    } else if (path.normalize(relative) === 'trust.yaml') {
      trust = await loadTrust(file, data, hash);
    } else if (path.normalize(relative) === 'eol.yaml') {
      const parsed = eolSchema.safeParse(data);
      if (!parsed.success) throw problems(parsed.error, file);
      eol = parsed.data.distros;
    } else if (relative.startsWith('secrets')) {
      const parsed = secretsFileSchema.safeParse(data);
      if (!parsed.success) throw problems(parsed.error, file);
      for (const [i, rule] of (parsed.data.rules ?? []).entries()) {
        const where = `rules.${i}.pattern (${rule.id})`;
        const regex = compile(rule.pattern, `g${rule.flags ?? ''}`, file, where);
        const maxLength = boundedLength(rule.pattern, `g${rule.flags ?? ''}`, file, where);
        const allowRegexes = (rule.allowPatterns ?? []).map((p, j) => compile(p, 'i', file, `rules.${i}.allowPatterns.${j} (${rule.id})`));
        secretRules.push({ ...rule, regex, maxLength, allowRegexes, file });
        addInfo({ id: rule.id, check: 'secret', title: rule.title, severity: rule.severity, description: rule.description }, file);
      }
      for (const rule of parsed.data.files ?? []) {
        fileRules.push(rule);
        addInfo({ id: rule.id, check: 'secret', title: rule.title, severity: rule.severity, description: rule.description }, file);
      }
      for (const skip of parsed.data.skipPaths ?? []) skipPaths.push({ ...skip, regex: globToRegExp(skip.glob) });
    } else {
      throw new ImggateError('CONFIG_INVALID', `${file}: unknown rule file ${base} (expected policy.yaml, checks.yaml, eol.yaml, trust.yaml or secrets/*.yaml)`);
    }
  }
  const digest = `sha256:${hash.digest('hex')}`;
  const ruleSet: RuleSet = { dir, digest, policy: policy as PolicyFile, secretRules, fileRules, skipPaths, info, eol, trust };
  for (const name of Object.keys(ruleSet.policy.rules ?? {})) {
    if (!info.has(name)) throw new ImggateError('CONFIG_INVALID', `${path.join(dir, 'policy.yaml')}: rules.${name}: no such rule`);
  }
  return ruleSet;
}
