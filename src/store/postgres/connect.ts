import pg from 'pg';
import { ImggateError, type StoreErrorCode } from '../../errors.js';

/** Whether a `store.database` setting names PostgreSQL. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(url);
}

/** The URL with its password replaced: the only form that may be logged or printed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    // A password can also be a query parameter (libpq's `password=`).
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** Every occurrence of the URL's password in `text` replaced, for messages from the driver or the server. */
export function scrub(text: string, url: string): string {
  let out = text.split(url).join(redactUrl(url));
  try {
    const u = new URL(url);
    for (const secret of [u.password, decodeURIComponent(u.password), u.searchParams.get('password') ?? '']) {
      if (secret.length >= 3) out = out.split(secret).join('***');
    }
  } catch {
    // Not a URL: nothing more to hide than the whole of it, already replaced.
  }
  return out;
}

/** A store error naming the database without its password, the driver's error kept as the cause. */
export function storeError(url: string, what: string, err: unknown): ImggateError<StoreErrorCode> {
  const detail = err instanceof Error ? err.message || (err as NodeJS.ErrnoException).code || err.name : String(err);
  return new ImggateError<StoreErrorCode>('STORE_FAILED', `${what} (${redactUrl(url)}): ${scrub(detail, url)}`, { cause: err });
}

/** Ids and times (ms since the epoch) are bigint columns; every value fits a double exactly. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface PoolOptions {
  /** Connections this process holds at most (default 4). */
  readonly max?: number;
}

/**
 * A connection pool. Nothing is connected yet: the caller's first query (the migration) finds out
 * whether the database can be reached, within the connect timeout.
 */
export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 4,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: 'imggate',
    types,
  });
  // An idle connection the server dropped (a restart) is an error event on the pool, not a crash: the
  // next query opens a new one, or fails and says so.
  pool.on('error', () => {});
  return pool;
}

/** A connection taken from the pool, and how to give it back. */
export interface Checkout {
  readonly client: pg.PoolClient;
  /** Back to the pool, or closed when `broken` or when the server dropped it meanwhile. */
  release(broken?: boolean): void;
}

/**
 * Takes a connection from the pool. The pool listens for a dropped connection only while it is idle;
 * one taken out has no listener, and a server going away (a restart: "terminating connection due to
 * administrator command") would be an unhandled error event, which ends the process. Here the drop
 * only fails the connection's queries, and the connection is closed rather than pooled again.
 */
export async function checkout(pool: pg.Pool): Promise<Checkout> {
  const client = await pool.connect();
  let dropped = false;
  const onError = (): void => {
    dropped = true;
  };
  client.on('error', onError);
  return {
    client,
    release(broken = false) {
      client.off('error', onError);
      client.release(broken || dropped);
    },
  };
}

/** Runs `fn` in one transaction on one connection of the pool. */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const { client, release } = await checkout(pool);
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    release(broken);
  }
}
