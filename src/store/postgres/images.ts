import type { CurrentImage, ImagePage, ImageQuery, ImageStore, RemovedImage } from '../images.js';
import { digestOnlyTag } from '../images.js';
import { CURRENT_SQL, listSql, numbered, removedSql, SEEN_SQL, TRY_LOCK_SQL, UNLOCK_SQL } from '../images-sql.js';
import { toCurrentImages, toImagePage, type CurrentImageRow, type ImageRow } from '../rows.js';
import type { PostgresDatabase } from './database.js';

/**
 * The image inventory and the service's locks in PostgreSQL. A lock is one row taken with
 * `INSERT … ON CONFLICT DO UPDATE … WHERE`: the conflicting row is locked and the condition read again,
 * so of two processes racing for an expired lock one changes the row and the other changes nothing.
 */
export class PostgresImageStore implements ImageStore {
  readonly #db: PostgresDatabase;
  readonly #now: () => number;

  constructor(db: PostgresDatabase, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  async seen(registry: string, repository: string, tag: string | undefined, digest: string, at: number): Promise<void> {
    await this.#db.tx('images: seen failed', (c) => c.query(numbered(SEEN_SQL), [registry, repository, tag ?? digestOnlyTag(digest), digest, at]));
  }

  removed(image: RemovedImage, at: number): Promise<number> {
    const { sql, params } = removedSql(image, at);
    return this.#db.tx('images: removed failed', async (c) => (await c.query(numbered(sql), params)).rowCount ?? 0);
  }

  current(): Promise<CurrentImage[]> {
    return this.#db.tx('images: current failed', async (c) => toCurrentImages((await c.query<CurrentImageRow>(CURRENT_SQL)).rows));
  }

  list(query: ImageQuery): Promise<ImagePage> {
    const { sql, params } = listSql(query, (expr) => `string_agg(${expr}, ',')`);
    return this.#db.tx('images: list failed', async (c) => toImagePage((await c.query<ImageRow>(numbered(sql), params)).rows, query.limit));
  }

  tryLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    return this.#db.tx('images: lock failed', async (c) => (await c.query(numbered(TRY_LOCK_SQL), [name, owner, now + ttlMs, now])).rowCount === 1);
  }

  async unlock(name: string, owner: string): Promise<void> {
    await this.#db.tx('images: unlock failed', (c) => c.query(numbered(UNLOCK_SQL), [name, owner]));
  }
}
