import { ImggateError, type StoreErrorCode } from '../errors.js';
import { digestOnlyTag, type CurrentImage, type ImagePage, type ImageQuery, type ImageStore, type RemovedImage } from './images.js';
import { CURRENT_SQL, listSql, removedSql, SEEN_SQL, TRY_LOCK_SQL, UNLOCK_SQL } from './images-sql.js';
import { toCurrentImages, toImagePage, type CurrentImageRow, type ImageRow } from './rows.js';
import type { SqliteStore } from './sqlite.js';

/** The image inventory and the service's locks in the embedded store's file. */
export class SqliteImageStore implements ImageStore {
  readonly #store: SqliteStore;
  readonly #now: () => number;

  constructor(store: SqliteStore, now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  #tx<T>(what: string, fn: () => T): Promise<T> {
    try {
      return Promise.resolve(this.#store.database.transaction(fn).immediate());
    } catch (err) {
      return Promise.reject(new ImggateError<StoreErrorCode>('STORE_FAILED', `images: ${what} failed in ${this.#store.file}: ${(err as Error).message}`, { cause: err }));
    }
  }

  seen(registry: string, repository: string, tag: string | undefined, digest: string, at: number): Promise<void> {
    return this.#tx('seen', () => void this.#store.database.prepare(SEEN_SQL).run(registry, repository, tag ?? digestOnlyTag(digest), digest, at));
  }

  removed(image: RemovedImage, at: number): Promise<number> {
    const { sql, params } = removedSql(image, at);
    return this.#tx('removed', () => this.#store.database.prepare(sql).run(...params).changes);
  }

  current(): Promise<CurrentImage[]> {
    return this.#tx('current', () => toCurrentImages(this.#store.database.prepare(CURRENT_SQL).all() as CurrentImageRow[]));
  }

  list(query: ImageQuery): Promise<ImagePage> {
    return this.#tx('list', () => {
      const { sql, params } = listSql(query, (expr) => `group_concat(${expr}, ',')`);
      const rows = this.#store.database.prepare(sql).all(...params) as ImageRow[];
      return toImagePage(rows, query.limit);
    });
  }

  tryLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.#tx('lock', () => {
      const now = this.#now();
      return this.#store.database.prepare(TRY_LOCK_SQL).run(name, owner, now + ttlMs, now).changes === 1;
    });
  }

  unlock(name: string, owner: string): Promise<void> {
    return this.#tx('unlock', () => void this.#store.database.prepare(UNLOCK_SQL).run(name, owner));
  }
}
