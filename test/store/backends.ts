import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { postgresOrSkip, type TestPostgres } from '../harness/postgres.js';

/** The store section of imggate.yaml (as written, before defaults). */
export type StoreSection = { dir: string } | { database: string };

export interface LayerFactsRow {
  key: string;
  diff_id: string;
  facts: Buffer;
  sha256: string;
  bytes: number;
}

/**
 * One store backend for suites that run against each: how to make a fresh store and how to look at
 * (and tamper with) its rows from outside imggate.
 */
export interface StoreBackend {
  readonly name: string;
  /** A new, empty store. */
  fresh(): Promise<StoreSection>;
  /** The layer cache's rows, oldest written first. */
  layerFacts(store: StoreSection): Promise<LayerFactsRow[]>;
  /** Overwrites one layer cache row's bytes (and checksum, when given). */
  tamper(store: StoreSection, key: string, facts: Buffer, sha256?: string): Promise<void>;
  /** Marks the store as written by a newer imggate's schema. */
  markNewer(store: StoreSection): Promise<void>;
  /** Whether the bytes the database keeps on disk contain `needle` anywhere. */
  onDiskContains(store: StoreSection, needle: string): Promise<boolean>;
}

const fileOf = (store: StoreSection): string => ('dir' in store ? path.join(store.dir, 'imggate.db') : '');
const urlOf = (store: StoreSection): string => ('database' in store ? store.database : '');

async function withClient<T>(store: StoreSection, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlOf(store) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function sqlite(work: () => string): StoreBackend {
  let n = 0;
  const open = <T>(store: StoreSection, fn: (db: Database.Database) => T, readonly = false): T => {
    const db = new Database(fileOf(store), { readonly });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    name: 'embedded SQLite',
    fresh: async () => ({ dir: path.join(work(), `store-${++n}`) }),
    layerFacts: async (store) => open(store, (db) => db.prepare('SELECT key, diff_id, facts, sha256, bytes FROM layer_facts ORDER BY rowid').all() as LayerFactsRow[], true),
    tamper: async (store, key, facts, sha256) =>
      void open(store, (db) => (sha256 === undefined ? db.prepare('UPDATE layer_facts SET facts = ? WHERE key = ?').run(facts, key) : db.prepare('UPDATE layer_facts SET facts = ?, sha256 = ? WHERE key = ?').run(facts, sha256, key))),
    markNewer: async (store) => void open(store, (db) => db.pragma('user_version = 99')),
    onDiskContains: async (store, needle) => {
      const dir = path.dirname(fileOf(store));
      for (const f of await readdir(dir)) if ((await readFile(path.join(dir, f))).includes(needle)) return true;
      return false;
    },
  };
}

function postgres(server: () => TestPostgres): StoreBackend {
  return {
    name: 'PostgreSQL',
    fresh: async () => ({ database: await server().createDatabase() }),
    layerFacts: (store) =>
      withClient(store, async (c) => (await c.query<LayerFactsRow>('SELECT key, diff_id, facts, sha256, bytes::int AS bytes FROM layer_facts ORDER BY seq')).rows),
    tamper: (store, key, facts, sha256) =>
      withClient(store, async (c) => {
        if (sha256 === undefined) await c.query('UPDATE layer_facts SET facts = $1 WHERE key = $2', [facts, key]);
        else await c.query('UPDATE layer_facts SET facts = $1, sha256 = $2 WHERE key = $3', [facts, sha256, key]);
      }),
    markNewer: (store) => withClient(store, async (c) => void (await c.query('INSERT INTO imggate_schema (version) VALUES (99)'))),
    // Every file of the cluster, after a checkpoint has written the tables out (WAL included).
    onDiskContains: async (_store, needle) => {
      await withClient({ database: server().url() }, async (c) => void (await c.query('CHECKPOINT')));
      const walk = async (dir: string): Promise<boolean> => {
        for (const e of await readdir(dir, { withFileTypes: true })) {
          const p = path.join(dir, e.name);
          if (e.isDirectory() ? await walk(p) : e.isFile() && (await readFile(p)).includes(needle)) return true;
        }
        return false;
      };
      return walk(server().dataDir);
    },
  };
}

/**
 * Runs `suite` once per backend, each in its own describe: SQLite always, PostgreSQL on a cluster of
 * the suite's own (skipped with the reason when PostgreSQL is not installed, failed when CI requires it).
 */
export function forEachBackend(suite: (backend: () => StoreBackend) => void): void {
  describe('on the embedded SQLite store', function () {
    let work = '';
    const backend = sqlite(() => work);
    before(async () => {
      work = await mkdtemp(path.join(os.tmpdir(), 'imggate-backend-'));
    });
    after(async () => rm(work, { recursive: true, force: true }));
    suite(() => backend);
  });
  describe('on PostgreSQL', function () {
    let server: TestPostgres | undefined;
    const backend = postgres(() => {
      if (!server) throw new Error('no PostgreSQL');
      return server;
    });
    before(async function () {
      this.timeout(120_000);
      server = await postgresOrSkip(this);
    });
    after(async () => server?.destroy());
    suite(() => backend);
  });
}
