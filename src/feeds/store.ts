import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as z from '../zod.js';
import { ImggateError } from '../errors.js';

/** `$XDG_DATA_HOME/imggate`, or `~/.local/share/imggate`: the embedded store's default home. */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env['XDG_DATA_HOME'] || path.join(os.homedir(), '.local', 'share'), 'imggate');
}

/** Writes atomically (write, then rename), so a reader never sees half a snapshot. */
async function writeAtomic(file: string, data: unknown): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(data));
  await rename(tmp, file);
  return file;
}

/**
 * Snapshots this process has read, by file, with the identity of the file they came from. A service
 * worker checks many images against the same snapshots; parsing and validating a whole distribution's
 * index (60,000 packages for Debian's main) for each would cost more than the rest of a rescan. A file
 * replaced by an update (renamed into place: a new inode) is read again. Shared: callers only read it.
 */
const readSnapshots = new Map<string, { readonly identity: string; readonly data: unknown }>();
const MAX_HELD_SNAPSHOTS = 32;

/** A stored snapshot, validated; undefined when there is none. */
async function readSnapshot<T>(file: string, schema: z.ZodMiniType<T>, what: string): Promise<T | undefined> {
  let text: string;
  let identity: string;
  try {
    const handle = await open(file, 'r');
    try {
      const s = await handle.stat();
      identity = `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
      const held = readSnapshots.get(file);
      if (held?.identity === identity) return held.data as T;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ImggateError('CONFIG_INVALID', `${file} is not ${what}; run imggate feeds update`);
  if (readSnapshots.size >= MAX_HELD_SNAPSHOTS) readSnapshots.delete(readSnapshots.keys().next().value as string);
  readSnapshots.set(file, { identity, data: parsed.data });
  return parsed.data;
}

export const suiteSnapshotSchema = z.object({
  kind: z.enum(['debian-suite', 'alpine-branch']),
  mirror: z.string(),
  suite: z.string(),
  /** sha256 of the InRelease file: which state of the archive this is. */
  digest: z.string(),
  fetchedAt: z.string(),
  /** The archive's own `Date:` field. */
  date: z.optional(z.string()),
  /** The archive's `Valid-Until:`: past it, this snapshot is stale whatever its fetch time. */
  validUntil: z.optional(z.string()),
  /** The archive's `Origin:` (Debian, Ubuntu). */
  origin: z.optional(z.string()),
  architectures: z.optional(z.array(z.string())),
  /** Which index files were read, by the SHA256 the signed Release lists. */
  indexes: z.optional(z.array(z.object({ path: z.string(), sha256: z.string() }))),
  verified: z.boolean(),
  /** Highest version of each binary package in the suite. */
  packages: z.record(z.string(), z.string()),
});
export type SuiteSnapshot = z.infer<typeof suiteSnapshotSchema>;

function snapshotPath(storeDir: string, release: string, suite: string, distro: string): string {
  return path.join(storeDir, 'feeds', distro, release, `${suite}.json`);
}

/** Where the signed files a snapshot was made from are kept (for `imggate feeds export`). */
export function suiteFilesDir(storeDir: string, release: string, suite: string, distro: string): string {
  return path.join(storeDir, 'feeds', distro, release, `${suite}.files`);
}

/**
 * Keeps the InRelease and the index files a snapshot was made from, so the snapshot can be exported
 * and re-verified on another machine. Replaced whole: written beside, then renamed into place.
 */
export async function saveSuiteFiles(storeDir: string, release: string, snapshot: SuiteSnapshot, files: ReadonlyMap<string, Buffer>): Promise<void> {
  const dir = suiteFilesDir(storeDir, release, snapshot.suite, snapshot.kind === 'alpine-branch' ? 'alpine' : 'debian');
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  for (const [name, data] of files) {
    const file = path.join(tmp, path.normalize(name));
    if (!file.startsWith(`${tmp}${path.sep}`)) throw new ImggateError('MANIFEST_INVALID', `feed file name "${name}" leaves its directory`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, data);
  }
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

export function saveSuiteSnapshot(storeDir: string, release: string, snapshot: SuiteSnapshot): Promise<string> {
  return writeAtomic(snapshotPath(storeDir, release, snapshot.suite, snapshot.kind === 'alpine-branch' ? 'alpine' : 'debian'), snapshot);
}

export function loadSuiteSnapshot(storeDir: string, release: string, suite: string, distro: 'debian' | 'alpine' = 'debian'): Promise<SuiteSnapshot | undefined> {
  return readSnapshot(snapshotPath(storeDir, release, suite, distro), suiteSnapshotSchema, 'a feed snapshot');
}

const osvSnapshotSchema = z.object({
  kind: z.literal('osv'),
  fetchedAt: z.string(),
  digest: z.string(),
  sources: z.array(z.string()),
  records: z.array(z.unknown()),
});
export type OsvSnapshot = z.infer<typeof osvSnapshotSchema>;

function osvPath(storeDir: string): string {
  return path.join(storeDir, 'feeds', 'osv', 'advisories.json');
}

export function saveOsvSnapshot(storeDir: string, snapshot: OsvSnapshot): Promise<string> {
  return writeAtomic(osvPath(storeDir), snapshot);
}

export function loadOsvSnapshot(storeDir: string): Promise<OsvSnapshot | undefined> {
  return readSnapshot(osvPath(storeDir), osvSnapshotSchema, 'an OSV snapshot');
}
