import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main, type Io } from '../../src/cli/main.js';
import { run, type RunResult } from './process.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/imggate.js');

/** One store for this test process's CLI runs unless a test names its own: never the user's. */
const TEST_DATA_HOME = mkdtempSync(path.join(os.tmpdir(), 'imggate-data-'));
// Benches import this too, without the test run's directory around them: nothing is left behind.
process.once('exit', () => rmSync(TEST_DATA_HOME, { recursive: true, force: true }));

/** Runs the real CLI as a subprocess, as a user or a CI step would. */
export function imggate(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<RunResult> {
  const env = { ...process.env, IMGGATE_CONFIG: '', XDG_CONFIG_HOME: '/nonexistent', XDG_DATA_HOME: TEST_DATA_HOME, DOCKER_CONFIG: '/nonexistent', ...options.env };
  return run(process.execPath, [BIN, ...args], { env, ...(options.input !== undefined ? { input: options.input } : {}), ...(options.cwd ? { cwd: options.cwd } : {}) });
}

/** The CLI in this process, its output kept, with no config and a store that cannot be opened: for what is decided before any image is read. */
export async function cli(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (d: Buffer) => out.push(d));
  stderr.on('data', (d: Buffer) => err.push(d));
  const io: Io = { stdout, stderr, stdin: new PassThrough(), env: { XDG_DATA_HOME: '/nonexistent', XDG_CONFIG_HOME: '/nonexistent', IMGGATE_CONFIG: '' } };
  const code = await main(argv, io);
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
