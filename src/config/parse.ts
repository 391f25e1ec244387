import { createRequire } from 'node:module';
import { ImggateError } from '../errors.js';
import { configSchema, type ConfigFile } from './schema.js';

/** The YAML parser, loaded when there is a file to read. */
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

/** The configuration without a file: every default. */
export const defaultConfig = (): ConfigFile => configSchema.parse({});
