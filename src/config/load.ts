import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ImggateError } from '../errors.js';
import { configSchema, type ConfigFile } from './schema.js';

export const CONFIG_ENV = 'IMGGATE_CONFIG';

/** `$XDG_CONFIG_HOME/imggate/imggate.yaml`, or `~/.config/imggate/imggate.yaml`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CONFIG_HOME'] || path.join(os.homedir(), '.config');
  return path.join(base, 'imggate', 'imggate.yaml');
}

export interface LoadedConfig {
  readonly config: ConfigFile;
  /** The file it came from; undefined when none exists and defaults apply. */
  readonly file: string | undefined;
}

/**
 * Finds and validates the configuration: `--config`, then `$IMGGATE_CONFIG`, then the default
 * location. A file that was named explicitly must exist; the default one may be absent.
 */
export async function loadConfig(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const named = explicit ?? (env[CONFIG_ENV] || undefined);
  const file = named ?? defaultConfigPath(env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && named === undefined) {
      return { config: configSchema.parse({}), file: undefined };
    }
    throw new ImggateError('CONFIG_NOT_FOUND', `cannot read config ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { config: parseConfig(text, file), file };
}

/** The YAML parser, loaded when there is a file to read: a run without imggate.yaml (and a warm check) does without it. */
const parseYaml = (text: string): unknown => (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);

/** Parses and validates config text; every problem is reported with its field path. */
export function parseConfig(text: string, file: string): ConfigFile {
  let data: unknown;
  try {
    data = parseYaml(text) ?? {};
  } catch (err) {
    throw new ImggateError('CONFIG_INVALID', `${file}: not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  const result = configSchema.safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new ImggateError('CONFIG_INVALID', `${file} is not a valid imggate config:\n${problems.join('\n')}`);
  }
  return result.data;
}
