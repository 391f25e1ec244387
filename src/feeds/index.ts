import type { ConfigFile } from '../config/schema.js';
import { fetchAlpine } from './alpine.js';
import { fetchSuite, suitesOf } from './debian.js';
import { withFeedLock } from './lock.js';
import { indexOsv, osvSchema, readOsvRecords, type AdvisoryDb } from '../packages/osv.js';
import { defaultStoreDir, loadOsvSnapshot, loadSuiteSnapshot, saveOsvSnapshot, saveSuiteFiles, saveSuiteSnapshot } from './store.js';

export const DEFAULT_FEED_MAX_AGE_MS = 7 * 86_400_000;

export function storeDirOf(config: ConfigFile, env: NodeJS.ProcessEnv = process.env): string {
  return config.store.dir ?? defaultStoreDir(env);
}

export interface UpdateResult {
  readonly suite: string;
  readonly file: string;
  readonly packages: number;
  readonly digest: string;
  readonly verified: boolean;
}

/**
 * The configured OSV advisories as the store holds them: undefined when none are configured, `missing`
 * when they are but `imggate feeds update` has not imported them.
 */
export async function loadStoredAdvisories(config: ConfigFile, env: NodeJS.ProcessEnv = process.env): Promise<AdvisoryDb | 'missing' | undefined> {
  if (!config.feeds.osv?.length) return undefined;
  const snapshot = await loadOsvSnapshot(storeDirOf(config, env));
  if (!snapshot) return 'missing';
  const records = snapshot.records.map((r) => osvSchema.parse(r));
  return indexOsv(records, { sources: snapshot.sources, digest: snapshot.digest, fetchedAt: snapshot.fetchedAt });
}

/**
 * Fetches every configured feed (Debian suites, OSV advisories, Alpine branches) into the store, holding
 * the store's feed lock throughout: a reader that honours the lock (the service's rescans) never takes
 * a half-updated set of snapshots for a state.
 */
export function updateFeeds(config: ConfigFile, env: NodeJS.ProcessEnv = process.env, now: Date = new Date()): Promise<UpdateResult[]> {
  const dir = storeDirOf(config, env);
  return withFeedLock(dir, () => fetchAll(config, dir, now));
}

async function fetchAll(config: ConfigFile, dir: string, now: Date): Promise<UpdateResult[]> {
  const results: UpdateResult[] = [];
  for (const feed of config.feeds.debian ?? []) {
    for (const { suite, mirror } of suitesOf(feed)) {
      const files = new Map<string, Buffer>();
      const previous = await loadSuiteSnapshot(dir, feed.codename, suite).catch(() => undefined);
      const snapshot = await fetchSuite(feed, mirror, suite, { now, previous, keep: (f, data) => files.set(f, data) });
      await saveSuiteFiles(dir, feed.codename, snapshot, files);
      const file = await saveSuiteSnapshot(dir, feed.codename, snapshot);
      results.push({ suite, file, packages: Object.keys(snapshot.packages).length, digest: snapshot.digest, verified: snapshot.verified });
    }
  }
  if (config.feeds.osv?.length) {
    const { records, digest } = await readOsvRecords(config.feeds.osv);
    const file = await saveOsvSnapshot(dir, { kind: 'osv', fetchedAt: now.toISOString(), digest, sources: config.feeds.osv, records });
    results.push({ suite: 'osv', file, packages: records.length, digest, verified: false });
  }
  for (const feed of config.feeds.alpine ?? []) {
    const snapshot = await fetchAlpine(feed, now);
    const file = await saveSuiteSnapshot(dir, feed.branch, snapshot);
    results.push({ suite: `alpine ${feed.branch}`, file, packages: Object.keys(snapshot.packages).length, digest: snapshot.digest, verified: snapshot.verified });
  }
  return results;
}
