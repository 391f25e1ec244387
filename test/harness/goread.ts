import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CACHE_DIR } from './debian.js';
import { run, runOk, which } from './process.js';

const SOURCE = path.join('test', 'oracles', 'goread', 'main.go');

/**
 * Builds test/oracles/goread (Go's own archive/tar and encoding/json, standard library only) into the
 * test cache, keyed by the source's hash. Tests that need it skip when Go is missing, unless
 * IMGGATE_REQUIRE_GO=1 (set by .ci/run) makes that a failure.
 */
export async function buildGoread(): Promise<string | undefined> {
  if (!(await which('go'))) {
    if (process.env['IMGGATE_REQUIRE_GO'] === '1') throw new Error('go is required (IMGGATE_REQUIRE_GO=1) but was not found');
    return undefined;
  }
  const source = await readFile(SOURCE);
  const dir = path.join(CACHE_DIR, 'goread', createHash('sha256').update(source).digest('hex').slice(0, 16));
  const binary = path.join(dir, 'goread');
  if (existsSync(binary)) return binary;
  await mkdir(dir, { recursive: true });
  await runOk('go', ['build', '-o', binary, '.'], {
    cwd: path.dirname(SOURCE),
    env: { ...process.env, GO111MODULE: 'off', GOFLAGS: '', GOCACHE: path.join(CACHE_DIR, 'go-build'), GOPATH: path.join(CACHE_DIR, 'gopath') },
  });
  return binary;
}

/** Runs goread in a mode over one input; its stdout. */
export async function goread(binary: string, mode: string, input: Buffer): Promise<string> {
  const r = await run(binary, [mode], { input });
  if (r.code !== 0) throw new Error(`goread ${mode} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
