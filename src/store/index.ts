import path from 'node:path';
import type { ConfigFile } from '../config/schema.js';
import { storeDirOf } from '../feeds/index.js';
import { SqliteStore } from './sqlite.js';
import type { VerdictStore } from './types.js';

export { SqliteStore } from './sqlite.js';
export type { NewVerdict, StoredVerdict, VerdictQuery, VerdictStore } from './types.js';

/** The store's database file: `store.dir/imggate.db`. */
export function storeFileOf(config: ConfigFile, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(storeDirOf(config, env), 'imggate.db');
}

/** Opens the configured store (the embedded SQLite file by default). */
export function openStore(config: ConfigFile, env: NodeJS.ProcessEnv = process.env): VerdictStore {
  return new SqliteStore(storeFileOf(config, env));
}
