import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ImggateError, type StoreErrorCode } from '../errors.js';
import { IMAGES_MIGRATION } from './images-sql.js';
import { toVerdict, type VerdictRow } from './rows.js';
import type { NewVerdict, StoredVerdict, VerdictQuery, VerdictStore } from './types.js';

const SCHEMA_VERSION = 4;

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE verdicts (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     digest TEXT NOT NULL,
     reference TEXT NOT NULL,
     repository TEXT NOT NULL,
     platform TEXT,
     verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'fail', 'error')),
     policy_digest TEXT,
     checked_at TEXT NOT NULL,
     report TEXT NOT NULL,
     bundle TEXT,
     report_bundle TEXT,
     attestation TEXT
   );
   CREATE INDEX verdicts_digest ON verdicts (digest, checked_at);
   CREATE INDEX verdicts_reference ON verdicts (reference, checked_at);
   CREATE INDEX verdicts_repository ON verdicts (repository, checked_at);`,
  // 2: the service's durable queue (src/store/sqlite-queue.ts). Times are ms since the epoch.
  `CREATE TABLE jobs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     digest TEXT NOT NULL,
     registry TEXT NOT NULL,
     repository TEXT NOT NULL,
     tag TEXT,
     rules_digest TEXT NOT NULL,
     feeds_state TEXT NOT NULL,
     priority INTEGER NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     max_attempts INTEGER NOT NULL,
     not_before INTEGER NOT NULL,
     lease_owner TEXT,
     lease_token INTEGER NOT NULL DEFAULT 0,
     lease_expires INTEGER,
     last_error TEXT,
     verdict TEXT CHECK (verdict IN ('pass', 'fail', 'error')),
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     finished_at INTEGER,
     UNIQUE (digest, rules_digest, feeds_state)
   );
   CREATE INDEX jobs_runnable ON jobs (state, priority, not_before, id);
   CREATE INDEX jobs_repository ON jobs (repository, id);
   CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     receiver TEXT NOT NULL,
     event_id TEXT NOT NULL,
     registry TEXT NOT NULL,
     repository TEXT NOT NULL,
     tag TEXT,
     digest TEXT NOT NULL,
     job_id INTEGER NOT NULL REFERENCES jobs (id),
     received_at INTEGER NOT NULL,
     UNIQUE (receiver, event_id)
   );
   CREATE INDEX events_job ON events (job_id);
   ALTER TABLE verdicts ADD COLUMN job_id INTEGER REFERENCES jobs (id);
   CREATE INDEX verdicts_job ON verdicts (job_id);`,
  // 3: the layer cache (src/store/layer-facts.ts). Times are ms since the epoch.
  `CREATE TABLE layer_facts (
     key TEXT PRIMARY KEY,
     diff_id TEXT NOT NULL,
     facts BLOB NOT NULL,
     sha256 TEXT NOT NULL,
     bytes INTEGER NOT NULL,
     used_at INTEGER NOT NULL
   );
   CREATE INDEX layer_facts_used ON layer_facts (used_at);
   CREATE INDEX layer_facts_diff_id ON layer_facts (diff_id);`,
  // 4: what the service knows is in the registries (src/store/images.ts), locks for work one process
  // does at a time, and the `reconcile` priority between manual and rescan (rescans move from 2 to 3).
  IMAGES_MIGRATION,
];


/**
 * The embedded store: one SQLite file (`store.dir/imggate.db`) in WAL mode, so checks running in
 * parallel processes each append their verdict without losing another's.
 */
export class SqliteStore implements VerdictStore {
  readonly file: string;
  readonly #db: Database.Database;

  constructor(file: string) {
    this.file = file;
    try {
      if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
      this.#db = new Database(file);
      // The wait first: a new file is put in WAL mode and migrated by whichever process comes first.
      this.#db.pragma('busy_timeout = 10000');
      // Switching a new file to WAL can answer "locked" at once, without waiting, while other processes
      // do the same: that step is tried again for as long as the busy timeout.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          this.#db.pragma('journal_mode = WAL');
          this.#migrate();
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20 + Math.floor(Math.random() * 30));
        }
      }
    } catch (err) {
      throw new ImggateError<StoreErrorCode>('STORE_FAILED', `cannot open the store ${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  #migrate(): void {
    const current = (): number => {
      const version = this.#db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) throw new Error(`it was written by a newer imggate (schema ${version}, this one knows ${SCHEMA_VERSION})`);
      return version;
    };
    if (current() === SCHEMA_VERSION) return;
    // Read again under the write lock: processes opening a new store together each saw version 0,
    // and the first to get the lock has migrated it by the time the next one does.
    const apply = this.#db.transaction(() => {
      for (let v = current(); v < SCHEMA_VERSION; v++) this.#db.exec(MIGRATIONS[v] as string);
      this.#db.pragma(`user_version = ${SCHEMA_VERSION}`);
    });
    apply.immediate();
  }

  /** The open database, for the queue that shares the file (and its transactions). */
  get database(): Database.Database {
    return this.#db;
  }

  add(v: NewVerdict): number {
    try {
      return this.insert(v, null);
    } catch (err) {
      throw new ImggateError<StoreErrorCode>('STORE_FAILED', `cannot record the verdict in ${this.file}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Inserts one verdict row, filed under a queue job when there is one; the caller owns the transaction. */
  insert(v: NewVerdict, jobId: number | null): number {
    const info = this.#db
        .prepare(
          `INSERT INTO verdicts (digest, reference, repository, platform, verdict, policy_digest, checked_at, report, bundle, report_bundle, attestation, job_id)
           VALUES (@digest, @reference, @repository, @platform, @verdict, @policyDigest, @checkedAt, @report, @bundle, @reportBundle, @attestation, @jobId)`,
        )
        .run({
          jobId,
          digest: v.digest,
          reference: v.reference,
          repository: v.repository,
          platform: v.platform ?? null,
          verdict: v.verdict,
          policyDigest: v.policyDigest ?? null,
          checkedAt: v.checkedAt,
          report: JSON.stringify(v.report),
          bundle: v.bundle?.toString('utf8') ?? null,
          reportBundle: v.reportBundle?.toString('utf8') ?? null,
          attestation: v.attestations ? JSON.stringify(v.attestations) : null,
        });
    return Number(info.lastInsertRowid);
  }

  list(query: VerdictQuery): StoredVerdict[] {
    const where: string[] = [];
    const params: Record<string, string | number> = { limit: query.limit ?? 50 };
    if (query.digest) {
      where.push('digest = @digest');
      params['digest'] = query.digest;
    }
    if (query.reference) {
      where.push('reference = @reference');
      params['reference'] = query.reference;
    }
    if (query.repository) {
      where.push('repository = @repository');
      params['repository'] = query.repository;
    }
    if (query.jobId !== undefined) {
      where.push('job_id = @jobId');
      params['jobId'] = query.jobId;
    }
    const sql = `SELECT * FROM verdicts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY checked_at DESC, id DESC LIMIT @limit`;
    const rows = this.#db.prepare(sql).all(params) as VerdictRow[];
    return rows.map(toVerdict);
  }

  close(): void {
    this.#db.close();
  }
}
