import path from 'node:path';
import type { ConfigFile } from '../config/schema.js';
import { storeDirOf } from '../feeds/index.js';
import type { PostgresLayerFacts } from './postgres/layer-facts.js';
import type { ImageStore } from './images.js';
import type { JobQueue, QueueSettings } from './queue.js';
import type { SqliteLayerFacts } from './layer-facts.js';
import type { VerdictStore } from './types.js';

export { SqliteStore } from './sqlite.js';
export type { CurrentImage, ImagePage, ImageQuery, ImageStore, ImageView } from './images.js';
export type { NewVerdict, StoredVerdict, VerdictQuery, VerdictStore } from './types.js';

/** The store's database file: `store.dir/imggate.db`. */
export function storeFileOf(config: ConfigFile, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(storeDirOf(config, env), 'imggate.db');
}

/** Where the store is, for people: the file, or the database URL without its password. */
export async function storeNameOf(config: ConfigFile, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (!config.store.database) return storeFileOf(config, env);
  const { redactUrl } = await import('./postgres/connect.js');
  return redactUrl(config.store.database);
}

// PostgreSQL's modules (and the pg driver) load only when `store.database` names a database.

/** Opens the configured store: PostgreSQL when `store.database` is set, else the embedded SQLite file. */
export async function openStore(config: ConfigFile, env: NodeJS.ProcessEnv = process.env): Promise<VerdictStore> {
  if (config.store.database) {
    const [{ PostgresDatabase }, { PostgresStore }] = await Promise.all([import('./postgres/database.js'), import('./postgres/store.js')]);
    return new PostgresStore(await PostgresDatabase.open(config.store.database));
  }
  const { SqliteStore } = await import('./sqlite.js');
  return new SqliteStore(storeFileOf(config, env));
}

/** The service's store: verdicts, the job queue and the image inventory on one connection (SQLite) or pool (PostgreSQL). */
export interface ServiceStore {
  readonly verdicts: VerdictStore;
  readonly queue: JobQueue;
  /** What is in the registries, and the locks for work one process does at a time. */
  readonly images: ImageStore;
  close(): Promise<void>;
}

/** Opens the service's store; the queue and the locks read the time from `settings.now`. */
export async function openServiceStore(config: ConfigFile, env: NodeJS.ProcessEnv, settings: QueueSettings, connections = 10): Promise<ServiceStore> {
  if (config.store.database) {
    const [{ PostgresDatabase }, { PostgresStore }, { PostgresJobQueue }, { PostgresImageStore }] = await Promise.all([
      import('./postgres/database.js'),
      import('./postgres/store.js'),
      import('./postgres/queue.js'),
      import('./postgres/images.js'),
    ]);
    const store = new PostgresStore(await PostgresDatabase.open(config.store.database, { max: connections }));
    return { verdicts: store, queue: new PostgresJobQueue(store, settings), images: new PostgresImageStore(store.db, settings.now), close: () => store.close() };
  }
  const [{ SqliteStore }, { SqliteJobQueue }, { SqliteImageStore }] = await Promise.all([import('./sqlite.js'), import('./sqlite-queue.js'), import('./sqlite-images.js')]);
  const store = new SqliteStore(storeFileOf(config, env));
  return { verdicts: store, queue: new SqliteJobQueue(store, settings), images: new SqliteImageStore(store, settings.now), close: async () => store.close() };
}

/** The layer cache's rows (`store.scanCacheMaxBytes` bounds them) in the configured store. */
export async function openLayerFacts(config: ConfigFile, env: NodeJS.ProcessEnv = process.env): Promise<{ rows: SqliteLayerFacts | PostgresLayerFacts; close(): Promise<void> }> {
  const { DEFAULT_LAYER_FACTS_BYTES, SqliteLayerFacts } = await import('./layer-facts.js');
  const maxBytes = config.store.scanCacheMaxBytes ?? DEFAULT_LAYER_FACTS_BYTES;
  if (config.store.database) {
    const [{ PostgresDatabase }, { PostgresLayerFacts }] = await Promise.all([import('./postgres/database.js'), import('./postgres/layer-facts.js')]);
    const rows = new PostgresLayerFacts(await PostgresDatabase.open(config.store.database, { max: 2 }), maxBytes);
    return { rows, close: () => rows.close() };
  }
  const { SqliteStore } = await import('./sqlite.js');
  const store = new SqliteStore(storeFileOf(config, env));
  return { rows: new SqliteLayerFacts(store.database, maxBytes), close: async () => store.close() };
}
