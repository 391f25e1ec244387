import type { ConfigFile } from '../config/schema.js';
import { fetchAlpine } from './alpine.js';
import { fetchSuite, suitesOf } from './debian.js';
import { defaultStoreDir, loadSuiteSnapshot, saveSuiteSnapshot, type SuiteSnapshot } from './store.js';

export interface DistroFeed {
  readonly distro: 'debian' | 'alpine';
  /** Debian codename (`bookworm`) or Alpine branch (`v3.19`). */
  readonly release: string;
  readonly suites: ReadonlyArray<{ readonly suite: string; readonly role: 'release' | 'updates' | 'security'; readonly snapshot: SuiteSnapshot | undefined }>;
}

export const DEFAULT_FEED_MAX_AGE_MS = 7 * 86_400_000;

export function storeDirOf(config: ConfigFile, env: NodeJS.ProcessEnv = process.env): string {
  return config.store.dir ?? defaultStoreDir(env);
}

/** The snapshots `imggate feeds update` stored for every configured Debian feed (undefined where none). */
export async function loadDistroFeeds(config: ConfigFile, env: NodeJS.ProcessEnv = process.env): Promise<DistroFeed[]> {
  const dir = storeDirOf(config, env);
  const out: DistroFeed[] = [];
  for (const feed of config.feeds.debian ?? []) {
    const suites = [];
    for (const { suite, role } of suitesOf(feed)) suites.push({ suite, role, snapshot: await loadSuiteSnapshot(dir, feed.codename, suite) });
    out.push({ distro: 'debian', release: feed.codename, suites });
  }
  for (const feed of config.feeds.alpine ?? []) {
    out.push({ distro: 'alpine', release: feed.branch, suites: [{ suite: feed.branch, role: 'updates', snapshot: await loadSuiteSnapshot(dir, feed.branch, feed.branch, 'alpine') }] });
  }
  return out;
}

export interface UpdateResult {
  readonly suite: string;
  readonly file: string;
  readonly packages: number;
  readonly digest: string;
  readonly verified: boolean;
}

/** Fetches every suite of every configured Debian feed into the store. */
export async function updateFeeds(config: ConfigFile, env: NodeJS.ProcessEnv = process.env, now: Date = new Date()): Promise<UpdateResult[]> {
  const dir = storeDirOf(config, env);
  const results: UpdateResult[] = [];
  for (const feed of config.feeds.debian ?? []) {
    for (const { suite, mirror } of suitesOf(feed)) {
      const snapshot = await fetchSuite(feed, mirror, suite, now);
      const file = await saveSuiteSnapshot(dir, feed.codename, snapshot);
      results.push({ suite, file, packages: Object.keys(snapshot.packages).length, digest: snapshot.digest, verified: snapshot.verified });
    }
  }
  for (const feed of config.feeds.alpine ?? []) {
    const snapshot = await fetchAlpine(feed, now);
    const file = await saveSuiteSnapshot(dir, feed.branch, snapshot);
    results.push({ suite: `alpine ${feed.branch}`, file, packages: Object.keys(snapshot.packages).length, digest: snapshot.digest, verified: snapshot.verified });
  }
  return results;
}
