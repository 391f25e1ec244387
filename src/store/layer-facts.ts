import type Database from 'better-sqlite3';

/** Bytes the layer cache may hold when the config does not say (`store.scanCacheMaxBytes`). */
export const DEFAULT_LAYER_FACTS_BYTES = 512 * 1024 * 1024;

/**
 * The `layer_facts` table: encoded layer records by key, with their size and when each was last used,
 * bounded in bytes (least recently used rows go first). Rows are opaque here; the engine encodes and
 * checks them (src/scan/layer-cache.ts).
 */
export class SqliteLayerFacts {
  readonly #db: Database.Database;
  readonly #maxBytes: number;
  readonly #read: Database.Statement;
  readonly #touch: Database.Statement;
  readonly #write: Database.Statement;
  readonly #remove: Database.Statement;
  readonly #total: Database.Statement;
  readonly #oldest: Database.Statement;

  constructor(db: Database.Database, maxBytes: number = DEFAULT_LAYER_FACTS_BYTES) {
    this.#db = db;
    this.#maxBytes = maxBytes;
    this.#read = db.prepare('SELECT facts, sha256 FROM layer_facts WHERE key = ?');
    this.#touch = db.prepare('UPDATE layer_facts SET used_at = ? WHERE key = ?');
    this.#write = db.prepare(
      `INSERT INTO layer_facts (key, diff_id, facts, sha256, bytes, used_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET diff_id = excluded.diff_id, facts = excluded.facts, sha256 = excluded.sha256, bytes = excluded.bytes, used_at = excluded.used_at`,
    );
    this.#remove = db.prepare('DELETE FROM layer_facts WHERE key = ?');
    this.#total = db.prepare('SELECT COALESCE(SUM(bytes), 0) AS total FROM layer_facts');
    this.#oldest = db.prepare('SELECT key, bytes FROM layer_facts ORDER BY used_at ASC, rowid ASC LIMIT 64');
  }

  async read(key: string): Promise<{ bytes: Buffer; sha256: string } | undefined> {
    const row = this.#read.get(key) as { facts: Buffer; sha256: string } | undefined;
    if (!row) return undefined;
    this.#touch.run(Date.now(), key);
    return { bytes: row.facts, sha256: row.sha256 };
  }

  async write(key: string, diffId: string, bytes: Buffer, sha256: string): Promise<void> {
    this.#db.transaction(() => {
      this.#write.run(key, diffId, bytes, sha256, bytes.length, Date.now());
      let total = (this.#total.get() as { total: number }).total;
      while (total > this.#maxBytes) {
        const oldest = this.#oldest.all() as Array<{ key: string; bytes: number }>;
        if (oldest.length === 0) break;
        for (const row of oldest) {
          if (total <= this.#maxBytes) break;
          this.#remove.run(row.key);
          total -= row.bytes;
        }
      }
    }).immediate();
  }

  async remove(key: string): Promise<void> {
    this.#remove.run(key);
  }

  /** Rows and bytes held, for `imggate` diagnostics and tests. */
  size(): { rows: number; bytes: number } {
    return this.#db.prepare('SELECT COUNT(*) AS rows, COALESCE(SUM(bytes), 0) AS bytes FROM layer_facts').get() as { rows: number; bytes: number };
  }
}
