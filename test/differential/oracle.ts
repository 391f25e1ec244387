import { access, lstat, mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run, runOk } from '../harness/process.js';

/** What the runtime oracle reports for one view (see ../shared/runtime-oracle/README.md). */
export interface OracleView {
  readonly applyError?: string;
  readonly special: string[];
  readonly passwd?: string;
  readonly osRelease?: string;
  readonly runcUser: string;
  readonly containerdUser: string;
}

export interface OracleResult {
  readonly overlay: OracleView;
  readonly naive: OracleView;
}

/** One privileged file as the oracle lists it: `"/path" 4755 0:0 caps=…`. */
export interface OracleSpecial {
  readonly path: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly caps?: string;
}

export function parseSpecial(line: string): OracleSpecial {
  const m = /^("(?:[^"\\]|\\.)*") ([0-7]{4}) (\d+):(\d+)(?: caps=([0-9a-f]+))?$/.exec(line);
  if (!m) throw new Error(`unexpected oracle line ${line}`);
  return { path: JSON.parse(m[1] as string) as string, mode: parseInt(m[2] as string, 8), uid: Number(m[3]), gid: Number(m[4]), ...(m[5] ? { caps: m[5] } : {}) };
}

/** Where the oracle binary is: IMGGATE_RUNTIME_ORACLE (set by .ci/run), else the default build place. */
export const ORACLE = process.env['IMGGATE_RUNTIME_ORACLE'] ?? '/var/tmp/runtime-oracle/runtime-oracle';

/**
 * Skips the calling suite when the oracle cannot run here (it needs root and its binary), with the reason;
 * fails instead when IMGGATE_REQUIRE_ORACLE=1 (CI), so a broken oracle build never passes silently.
 */
export async function requireOracle(ctx: Mocha.Context): Promise<void> {
  let reason = '';
  try {
    await access(ORACLE);
  } catch {
    reason = `runtime oracle not found at ${ORACLE} (build it: bash ../shared/runtime-oracle/build.sh DIR; set IMGGATE_RUNTIME_ORACLE)`;
  }
  if (!reason && process.getuid?.() !== 0) reason = 'the runtime oracle needs root (mknod, chown, overlay mount)';
  if (!reason) return;
  if (process.env['IMGGATE_REQUIRE_ORACLE'] === '1') throw new Error(`IMGGATE_REQUIRE_ORACLE=1 but ${reason}`);
  console.log(`    (skipped: ${reason})`);
  ctx.skip();
}

/** Applies the layer blobs with containerd's code (overlay and native) and resolves USER with runc's. */
export async function runOracle(blobs: readonly Buffer[], user: string): Promise<OracleResult> {
  return (await applyWithOracle(blobs, user, async () => undefined)).result;
}

/**
 * `runOracle`, and `look` at what containerd wrote before it is removed: `work` holds `l0`, `l1`, … (each
 * layer applied into its own directory, as the overlay snapshotter does) and `naive` (all in one).
 */
export async function applyWithOracle<T>(blobs: readonly Buffer[], user: string, look: (work: string, result: OracleResult) => Promise<T>): Promise<{ result: OracleResult; looked: T }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-oracle-'));
  try {
    const files: string[] = [];
    for (const [i, blob] of blobs.entries()) {
      const file = path.join(dir, `layer${i}.tar`);
      await writeFile(file, blob);
      files.push(file);
    }
    const work = path.join(dir, 'work');
    await mkdir(work);
    const r = await run(ORACLE, [work, user, ...files]);
    if (r.code !== 0) throw new Error(`runtime oracle failed (${r.code}): ${r.stderr}`);
    const result = JSON.parse(r.stdout) as OracleResult;
    return { result, looked: await look(work, result) };
  } finally {
    // The oracle unmounts its overlay before it exits; what it leaves is plain files owned by root.
    await rm(dir, { recursive: true, force: true });
  }
}

/** The PATH a runtime gives an image whose config sets none (and the gate assumes then). */
const DEFAULT_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Where `path` leads inside `root` as the kernel resolves it in a container rooted there: symlinks
 * followed (absolute ones from `root`), `..` never above it. Undefined when a component is missing or
 * the links loop.
 */
async function resolveIn(root: string, path: string): Promise<string | undefined> {
  const pending = path.split('/').filter(Boolean).reverse();
  const names: string[] = [];
  let hops = 0;
  while (pending.length) {
    const part = pending.pop() as string;
    if (part === '.') continue;
    if (part === '..') {
      names.pop();
      continue;
    }
    const here = `${root}/${[...names, part].join('/')}`;
    let st;
    try {
      st = await lstat(here);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return undefined;
      const target = await readlink(here);
      if (target.startsWith('/')) names.length = 0;
      pending.push(...target.split('/').filter(Boolean).reverse());
      continue;
    }
    names.push(part);
  }
  return `/${names.join('/')}`;
}

/** The world-writable directories of the default PATH, and world-writable files right in them, in a root. */
async function worldWritableIn(root: string): Promise<string[]> {
  const found = new Set<string>();
  for (const dir of DEFAULT_PATH) {
    const real = await resolveIn(root, dir);
    if (real === undefined) continue;
    const st = await lstat(`${root}${real}`).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    if (st.mode & 0o002) found.add(`${dir} (${real}) ${(st.mode & 0o7777).toString(8)}`);
    for (const name of await readdir(`${root}${real}`).catch(() => [] as string[])) {
      const f = await lstat(`${root}${real}/${name}`).catch(() => undefined);
      if (f?.isFile() && f.mode & 0o002) found.add(`${dir}/${name} (${real}/${name}) ${(f.mode & 0o7777).toString(8)}`);
    }
  }
  return [...found];
}

/**
 * What the oracle's containerd wrote, as a container would see it: `naive` is one directory; the overlay
 * view is mounted again from the layers' directories (the oracle unmounts its own before it exits).
 */
export async function runtimeWorldWritable(work: string, layers: number, result: OracleResult): Promise<{ overlay?: string[]; naive?: string[] }> {
  const out: { overlay?: string[]; naive?: string[] } = {};
  if (!result.naive.applyError) out.naive = await worldWritableIn(path.join(work, 'naive'));
  if (result.overlay.applyError) return out;
  if (layers === 1) {
    out.overlay = await worldWritableIn(path.join(work, 'l0'));
    return out;
  }
  const merged = path.join(work, 'again');
  await mkdir(merged);
  const lower = Array.from({ length: layers }, (_, i) => path.join(work, `l${layers - 1 - i}`)).join(':');
  await runOk('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lower}`, merged]);
  try {
    out.overlay = await worldWritableIn(merged);
  } finally {
    await runOk('umount', [merged]);
  }
  return out;
}
