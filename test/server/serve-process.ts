import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/imggate.js');

export interface ServeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every log line so far (JSON, one per line). */
  logs(): string;
  /** Resolves with the exit code once the process is gone. */
  exited(): Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs the real `imggate serve` as a subprocess with `config` written to `dir/imggate.yaml`. */
export async function startServeProcess(dir: string, config: string, env: NodeJS.ProcessEnv = {}, name = 'imggate.yaml'): Promise<ServeProcess> {
  const file = path.join(dir, name);
  await writeFile(file, config);
  const child = spawn(process.execPath, [BIN, 'serve', '--config', file], {
    env: { ...process.env, IMGGATE_CONFIG: '', XDG_CONFIG_HOME: '/nonexistent', XDG_DATA_HOME: path.join(dir, 'data'), DOCKER_CONFIG: '/nonexistent', ...env },
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`imggate serve did not start:\n${out}`)), 60_000);
    const look = (): void => {
      const m = /"msg":"listening","url":"([^"]+)"/.exec(out);
      if (m) {
        clearTimeout(deadline);
        resolve(m[1] as string);
      }
    };
    child.stdout?.on('data', look);
    child.once('exit', (code) => {
      clearTimeout(deadline);
      reject(new Error(`imggate serve exited ${code}:\n${out}`));
    });
  });
  return {
    url,
    child,
    logs: () => out,
    exited: () => exit,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exit;
    },
  };
}

/** Polls `fn` until it returns a value (not undefined) or `ms` pass. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
