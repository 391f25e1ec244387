import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from './process.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/imggate.js');

/** Runs the real CLI as a subprocess, as a user or a CI step would. */
export function imggate(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  const env = { ...process.env, IMGGATE_CONFIG: '', XDG_CONFIG_HOME: '/nonexistent', DOCKER_CONFIG: '/nonexistent', ...options.env };
  return run(process.execPath, [BIN, ...args], { env, ...(options.input !== undefined ? { input: options.input } : {}) });
}
