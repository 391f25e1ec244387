import type { ImageQuery, RemovedImage } from './images.js';

/**
 * The image inventory's schema and queries, one text for both backends: plain SQL, `?` placeholders
 * (PostgreSQL's code numbers them), BIGINT times in ms since the epoch. Only the aggregate that joins
 * tags differs (`group_concat` / `string_agg`).
 */
/**
 * The inventory and the locks. A store from before them knows its images from the events it received:
 * each (registry, repository, tag) is filled in with the digest its latest event named, so rescans
 * after the upgrade cover what the service checked before it.
 */
export const IMAGES_MIGRATION = `CREATE TABLE images (
     registry TEXT NOT NULL,
     repository TEXT NOT NULL,
     tag TEXT NOT NULL,
     digest TEXT NOT NULL,
     seen_at BIGINT NOT NULL,
     removed_at BIGINT,
     PRIMARY KEY (registry, repository, tag)
   );
   CREATE INDEX images_digest ON images (digest);
   CREATE INDEX images_current ON images (registry, repository, digest) WHERE removed_at IS NULL;
   CREATE TABLE service_locks (
     name TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   UPDATE jobs SET priority = 3 WHERE priority = 2;
   INSERT INTO images (registry, repository, tag, digest, seen_at)
     SELECT e.registry, e.repository, COALESCE(e.tag, '@' || e.digest), e.digest, e.received_at FROM events e
     JOIN (SELECT MAX(id) AS id FROM events GROUP BY registry, repository, COALESCE(tag, '@' || digest)) latest ON latest.id = e.id;`;

/** Upserts one tag's row (or the digest-only row): the digest it names now, current again. */
export const SEEN_SQL = `INSERT INTO images (registry, repository, tag, digest, seen_at, removed_at) VALUES (?, ?, ?, ?, ?, NULL)
  ON CONFLICT (registry, repository, tag) DO UPDATE SET digest = excluded.digest, seen_at = excluded.seen_at, removed_at = NULL`;

/** Every current row, in the order `toCurrentImages` groups. */
export const CURRENT_SQL = 'SELECT registry, repository, digest, tag FROM images WHERE removed_at IS NULL ORDER BY registry, repository, digest, tag';

/** Inserts the lock, or takes it over when it expired or is already the owner's: one row changed means held. */
export const TRY_LOCK_SQL = `INSERT INTO service_locks (name, owner, expires_at) VALUES (?, ?, ?)
  ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
  WHERE service_locks.owner = excluded.owner OR service_locks.expires_at <= ?`;

/** Releases a lock, only for its owner. */
export const UNLOCK_SQL = 'DELETE FROM service_locks WHERE name = ? AND owner = ?';

/** The UPDATE a delete makes, and its parameters. */
export function removedSql(image: RemovedImage, at: number): { sql: string; params: Array<string | number> } {
  const where = ['registry = ?', 'repository = ?', 'removed_at IS NULL'];
  const params: Array<string | number> = [at, image.registry, image.repository];
  if (image.tag !== undefined) {
    where.push('tag = ?');
    params.push(image.tag);
  }
  if (image.digest !== undefined) {
    where.push('digest = ?');
    params.push(image.digest);
  }
  if (image.seenBefore !== undefined) {
    where.push('seen_at < ?');
    params.push(image.seenBefore);
  }
  return { sql: `UPDATE images SET removed_at = ? WHERE ${where.join(' AND ')}`, params };
}

/** The largest page the listing returns. */
export const MAX_PAGE = 500;

/** A page's position: the last (registry, repository, digest) it held, opaque to clients. */
export function encodeCursor(key: readonly [string, string, string]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The key a cursor holds, or undefined for anything this store did not write. */
export function decodeCursor(cursor: string): [string, string, string] | undefined {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return Array.isArray(key) && key.length === 3 && key.every((k) => typeof k === 'string') ? (key as [string, string, string]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The API's listing: one row per (registry, repository, digest) with its tags and its latest verdict.
 * The verdict "before" the latest is the next older row for the digest (`LEAD` over newest first), so
 * `changedSince` keeps the images whose answer changed, or that got their first. `checked_at` is the
 * report's ISO 8601 time in UTC, so it compares as text.
 */
export function listSql(query: ImageQuery, aggregate: (expr: string) => string): { sql: string; params: Array<string | number> } {
  const where: string[] = [];
  const having: string[] = [];
  const params: Array<string | number> = [];
  if (query.repository !== undefined) {
    where.push('i.repository = ?');
    params.push(query.repository);
  }
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (query.cursor !== undefined && !cursor) throw new Error('the cursor is not one this store gave');
  if (cursor) {
    where.push('(i.registry, i.repository, i.digest) > (?, ?, ?)');
    params.push(...cursor);
  }
  if (query.current !== false) having.push('MAX(CASE WHEN i.removed_at IS NULL THEN 1 ELSE 0 END) = 1');
  if (query.changedSince !== undefined) {
    having.push('l.checked_at >= ?', '(l.previous IS NULL OR l.previous <> l.verdict)');
    params.push(new Date(query.changedSince).toISOString());
  }
  params.push(Math.min(Math.max(query.limit ?? 50, 1), MAX_PAGE) + 1);
  const sql = `WITH ranked AS (
      SELECT digest, verdict, checked_at,
             ROW_NUMBER() OVER (PARTITION BY digest ORDER BY checked_at DESC, id DESC) AS rn,
             LEAD(verdict) OVER (PARTITION BY digest ORDER BY checked_at DESC, id DESC) AS previous
      FROM verdicts WHERE digest IN (SELECT digest FROM images)
    ), latest AS (SELECT digest, verdict, checked_at, previous FROM ranked WHERE rn = 1)
    SELECT i.registry, i.repository, i.digest,
           ${aggregate('CASE WHEN i.removed_at IS NULL THEN i.tag END')} AS current_tags,
           ${aggregate('i.tag')} AS all_tags,
           MAX(CASE WHEN i.removed_at IS NULL THEN 1 ELSE 0 END) AS current,
           MAX(i.seen_at) AS seen_at, MAX(i.removed_at) AS removed_at,
           l.verdict, l.checked_at
    FROM images i LEFT JOIN latest l ON l.digest = i.digest
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    GROUP BY i.registry, i.repository, i.digest, l.verdict, l.checked_at, l.previous
    ${having.length ? `HAVING ${having.join(' AND ')}` : ''}
    ORDER BY i.registry, i.repository, i.digest
    LIMIT ?`;
  return { sql, params };
}

/** `?` → `$1`, `$2`…: the same statement for PostgreSQL (none of these texts has a literal `?`). */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
