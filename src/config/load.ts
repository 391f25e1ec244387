import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { cacheDir, readCacheEntry, sha256Hex, writeCacheEntry } from '../cache-file.js';
import { ImggateError } from '../errors.js';
import { VERSION } from '../version.js';
import type { ConfigFile } from './schema.js';

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
      return { config: await validated(undefined, file, env), file: undefined };
    }
    throw new ImggateError('CONFIG_NOT_FOUND', `cannot read config ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { config: await validated(text, file, env), file };
}

/** Bump when what an entry holds changes. */
const FORMAT = 1;

/**
 * The validated config for `text` (undefined: no file, the defaults). The YAML parser and the zod
 * schemas are most of what a short command spends before its work starts, so the result is kept in
 * `$XDG_CACHE_HOME/imggate/config` under the exact text, the home directory (`~/` paths expand to it)
 * and this imggate's version; a text read before is not parsed again. Only a valid config is kept, and
 * only one that JSON carries unchanged.
 */
async function validated(text: string | undefined, file: string, env: NodeJS.ProcessEnv): Promise<ConfigFile> {
  const dir = cacheDir('config', env);
  const key = sha256Hex(`imggate ${VERSION} config-cache ${FORMAT}\0${os.homedir()}\0${text === undefined ? 'defaults' : `file\0${text}`}`);
  const cached = await readCacheEntry(dir, key);
  if (typeof cached === 'object' && cached !== null) return cached as ConfigFile;
  const { parseConfig, defaultConfig } = await import('./parse.js');
  const config = text === undefined ? defaultConfig() : parseConfig(text, file);
  if (isDeepStrictEqual(JSON.parse(JSON.stringify(config)), config)) await writeCacheEntry(dir, key, config);
  return config;
}
