import { DEFAULT_LAYER_FACTS_BYTES } from '../layer-facts.js';
import type { PostgresDatabase } from './database.js';

/** Writers evict one at a time, so two of them never both count the same rows as still there. */
const EVICTION_LOCK = 0x696d67676c66n; // "imgglf"

/**
 * The `layer_facts` table in PostgreSQL: the embedded store's rows and bound (least recently used go
 * first), shared by every gate process. Rows are opaque here; src/scan/layer-cache.ts encodes and checks them.
 */
export class PostgresLayerFacts {
  constructor(
    readonly db: PostgresDatabase,
    readonly maxBytes: number = DEFAULT_LAYER_FACTS_BYTES,
  ) {}

  async read(key: string): Promise<{ bytes: Buffer; sha256: string } | undefined> {
    const { rows } = await this.db.pool.query<{ facts: Buffer; sha256: string }>('UPDATE layer_facts SET used_at = $2 WHERE key = $1 RETURNING facts, sha256', [key, Date.now()]);
    const row = rows[0];
    return row ? { bytes: row.facts, sha256: row.sha256 } : undefined;
  }

  async write(key: string, diffId: string, bytes: Buffer, sha256: string): Promise<void> {
    await this.db.tx('cannot keep the layer facts', async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [EVICTION_LOCK.toString()]);
      await client.query(
        `INSERT INTO layer_facts (key, diff_id, facts, sha256, bytes, used_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (key) DO UPDATE SET diff_id = excluded.diff_id, facts = excluded.facts, sha256 = excluded.sha256, bytes = excluded.bytes, used_at = excluded.used_at`,
        [key, diffId, bytes, sha256, bytes.length, Date.now()],
      );
      let total = (await client.query<{ total: number }>('SELECT COALESCE(SUM(bytes), 0)::bigint AS total FROM layer_facts')).rows[0]?.total ?? 0;
      while (total > this.maxBytes) {
        const oldest = (await client.query<{ key: string; bytes: number }>('SELECT key, bytes FROM layer_facts ORDER BY used_at ASC, seq ASC LIMIT 64')).rows;
        if (oldest.length === 0) break;
        const gone: string[] = [];
        for (const row of oldest) {
          if (total <= this.maxBytes) break;
          gone.push(row.key);
          total -= row.bytes;
        }
        await client.query('DELETE FROM layer_facts WHERE key = ANY($1)', [gone]);
      }
    });
  }

  async remove(key: string): Promise<void> {
    await this.db.pool.query('DELETE FROM layer_facts WHERE key = $1', [key]);
  }

  /** Rows and bytes held, for diagnostics and tests. */
  async size(): Promise<{ rows: number; bytes: number }> {
    const { rows } = await this.db.pool.query<{ rows: number; bytes: number }>('SELECT COUNT(*) AS rows, COALESCE(SUM(bytes), 0)::bigint AS bytes FROM layer_facts');
    return rows[0] ?? { rows: 0, bytes: 0 };
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
