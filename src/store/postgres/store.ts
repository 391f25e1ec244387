import type pg from 'pg';
import type { NewVerdict, StoredVerdict, VerdictQuery, VerdictStore } from '../types.js';
import { toVerdict, type VerdictRow } from '../rows.js';
import type { PostgresDatabase } from './database.js';


/** Verdicts in PostgreSQL: the same rows as the embedded store's, shared by every gate process. */
export class PostgresStore implements VerdictStore {
  constructor(readonly db: PostgresDatabase) {}

  add(v: NewVerdict): Promise<number> {
    return this.db.tx('cannot record the verdict', (client) => this.insert(client, v, null));
  }

  /** Inserts one verdict row, filed under a queue job when there is one; the caller owns the transaction. */
  async insert(client: pg.PoolClient, v: NewVerdict, jobId: number | null): Promise<number> {
    const { rows } = await client.query<{ id: number }>(
      `INSERT INTO verdicts (digest, reference, repository, platform, verdict, policy_digest, checked_at, report, bundle, report_bundle, attestation, job_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
      [
        v.digest,
        v.reference,
        v.repository,
        v.platform ?? null,
        v.verdict,
        v.policyDigest ?? null,
        v.checkedAt,
        JSON.stringify(v.report),
        v.bundle?.toString('utf8') ?? null,
        v.reportBundle?.toString('utf8') ?? null,
        v.attestations ? JSON.stringify(v.attestations) : null,
        jobId,
      ],
    );
    return (rows[0] as { id: number }).id;
  }

  list(query: VerdictQuery): Promise<StoredVerdict[]> {
    const where: string[] = [];
    const params: Array<string | number> = [];
    const add = (column: string, value: string | number | undefined): void => {
      if (value === undefined || value === '') return;
      params.push(value);
      where.push(`${column} = $${params.length}`);
    };
    add('digest', query.digest);
    add('reference', query.reference);
    add('repository', query.repository);
    add('job_id', query.jobId);
    params.push(query.limit ?? 50);
    const sql = `SELECT * FROM verdicts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY checked_at DESC, id DESC LIMIT $${params.length}`;
    return this.db.tx('cannot read verdicts', async (client) => (await client.query<VerdictRow>(sql, params)).rows.map(toVerdict));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
