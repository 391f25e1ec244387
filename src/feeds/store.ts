import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ImggateError } from '../errors.js';

/** `$XDG_DATA_HOME/imggate`, or `~/.local/share/imggate`: the embedded store's default home. */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env['XDG_DATA_HOME'] || path.join(os.homedir(), '.local', 'share'), 'imggate');
}

export const suiteSnapshotSchema = z.object({
  kind: z.enum(['debian-suite', 'alpine-branch']),
  mirror: z.string(),
  suite: z.string(),
  /** sha256 of the InRelease file: which state of the archive this is. */
  digest: z.string(),
  fetchedAt: z.string(),
  /** The archive's own `Date:` field. */
  date: z.string().optional(),
  verified: z.boolean(),
  /** Highest version of each binary package in the suite. */
  packages: z.record(z.string(), z.string()),
});
export type SuiteSnapshot = z.infer<typeof suiteSnapshotSchema>;

function snapshotPath(storeDir: string, release: string, suite: string, distro: string): string {
  return path.join(storeDir, 'feeds', distro, release, `${suite}.json`);
}

/** Writes a snapshot atomically (write, then rename), so a reader never sees half of one. */
export async function saveSuiteSnapshot(storeDir: string, release: string, snapshot: SuiteSnapshot): Promise<string> {
  const file = snapshotPath(storeDir, release, snapshot.suite, snapshot.kind === 'alpine-branch' ? 'alpine' : 'debian');
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(snapshot));
  await rename(tmp, file);
  return file;
}

export async function loadSuiteSnapshot(storeDir: string, release: string, suite: string, distro: 'debian' | 'alpine' = 'debian'): Promise<SuiteSnapshot | undefined> {
  const file = snapshotPath(storeDir, release, suite, distro);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = suiteSnapshotSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new ImggateError('CONFIG_INVALID', `${file} is not a feed snapshot; run imggate feeds update`);
  return parsed.data;
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

export async function saveOsvSnapshot(storeDir: string, snapshot: OsvSnapshot): Promise<string> {
  const file = osvPath(storeDir);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(snapshot));
  await rename(tmp, file);
  return file;
}

export async function loadOsvSnapshot(storeDir: string): Promise<OsvSnapshot | undefined> {
  const file = osvPath(storeDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = osvSnapshotSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new ImggateError('CONFIG_INVALID', `${file} is not an OSV snapshot; run imggate feeds update`);
  return parsed.data;
}
