import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from './process.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/imggate.js');

/** One store for this test process's CLI runs unless a test names its own: never the user's. */
const TEST_DATA_HOME = mkdtempSync(path.join(os.tmpdir(), 'imggate-data-'));

/** Runs the real CLI as a subprocess, as a user or a CI step would. */
export function imggate(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<RunResult> {
  const env = { ...process.env, IMGGATE_CONFIG: '', XDG_CONFIG_HOME: '/nonexistent', XDG_DATA_HOME: TEST_DATA_HOME, DOCKER_CONFIG: '/nonexistent', ...options.env };
  return run(process.execPath, [BIN, ...args], { env, ...(options.input !== undefined ? { input: options.input } : {}), ...(options.cwd ? { cwd: options.cwd } : {}) });
}
