import type pg from 'pg';
import { checkout, createPool, storeError, transaction, type PoolOptions } from './connect.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

/** One key for the whole schema: whoever holds it migrates, everyone else waits and then finds nothing to do. */
const MIGRATION_LOCK = 0x696d6767617465n; // "imggate"

/** The shared database of the verdicts, the queue and the layer cache: a pool, migrated on open. */
export class PostgresDatabase {
  private constructor(
    readonly pool: pg.Pool,
    /** The URL as given; `redactUrl` it before it goes anywhere a person reads. */
    readonly url: string,
  ) {}

  /**
   * Connects and brings the schema to this imggate's version. Throws STORE_FAILED (password never in
   * the message) when the database cannot be reached or was migrated by a newer imggate.
   */
  static async open(url: string, options: PoolOptions = {}): Promise<PostgresDatabase> {
    const pool = createPool(url, options);
    try {
      await migrate(pool);
    } catch (err) {
      await pool.end().catch(() => {});
      throw storeError(url, 'cannot open the store', err);
    }
    return new PostgresDatabase(pool, url);
  }

  tx<T>(what: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return transaction(this.pool, fn).catch((err: unknown) => {
      throw storeError(this.url, what, err);
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Applies the missing migrations under a session advisory lock, so processes starting together
 * migrate once: the first applies them, the others wait on the lock and find the version current.
 * A session lock (not a transaction one) spans every migration's own transaction; it goes with the
 * session if the process dies.
 */
async function migrate(pool: pg.Pool): Promise<void> {
  const { client, release } = await checkout(pool);
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS imggate_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM imggate_schema');
      const current = rows[0]?.v ?? 0;
      if (current > SCHEMA_VERSION) throw new Error(`it was written by a newer imggate (schema ${current}, this one knows ${SCHEMA_VERSION})`);
      for (let v = current; v < SCHEMA_VERSION; v++) {
        await client.query('BEGIN');
        try {
          await client.query(MIGRATIONS[v] as string);
          await client.query('INSERT INTO imggate_schema (version) VALUES ($1)', [v + 1]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw new Error(`migration ${v + 1} failed: ${(err as Error).message}`, { cause: err });
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]).catch(() => {
        broken = true;
      });
    }
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    release(broken);
  }
}
