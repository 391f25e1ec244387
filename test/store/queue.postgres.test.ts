import assert from 'node:assert/strict';
import { transaction } from '../../src/store/postgres/connect.js';
import { PostgresDatabase } from '../../src/store/postgres/database.js';
import { PostgresJobQueue } from '../../src/store/postgres/queue.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { postgresOrSkip, type TestPostgres } from '../harness/postgres.js';
import { CONTRACT_SETTINGS, queueContract, request, verdictRow } from './queue-contract.js';

// One cluster for the file; each backend the contract opens is a new, empty database on it.
describe('PostgreSQL', function () {
  let server: TestPostgres | undefined;
  before(async function () {
    this.timeout(120_000);
    server = await postgresOrSkip(this);
  });
  after(async function () {
    await server?.destroy();
  });

  queueContract('PostgreSQL', async (settings) => {
    if (!server) throw new Error('no PostgreSQL');
    const store = new PostgresStore(await PostgresDatabase.open(await server.createDatabase()));
    return {
      queue: new PostgresJobQueue(store, settings),
      verdictsOf: async (jobId) => (await store.list({ jobId, limit: 1000 })).length,
      close: () => store.close(),
    };
  });

  it('takes no job while the database is away, keeps no half-written verdict, and resumes when it is back (the cluster restarted)', async function () {
    this.timeout(120_000);
    if (!server) throw new Error('no PostgreSQL');
    const store = new PostgresStore(await PostgresDatabase.open(await server.createDatabase()));
    // The clock stands still: however long the restart takes, the lease is the question, not the time.
    const queue = new PostgresJobQueue(store, { ...CONTRACT_SETTINGS, now: () => Date.UTC(2026, 0, 1) });
    try {
      const first = await queue.enqueue(request(1));
      const second = await queue.enqueue(request(2));
      const lease = await queue.claim('w1');
      assert.equal(lease?.job.id, first.jobId);
      await server.stop();
      const refused = (err: Error & { code?: string }): boolean => err.code === 'STORE_FAILED' && !err.message.includes(server!.password);
      await assert.rejects(queue.claim('w2'), refused, 'no claim without the database');
      await assert.rejects(queue.complete(lease, { verdict: 'pass', verdicts: [verdictRow(1, 'pass')] }), refused);
      await assert.rejects(queue.ping(), refused);
      await server.start();
      // The pool's connections died with the server: new ones are opened, nothing is restarted here.
      assert.equal((await store.list({ jobId: first.jobId })).length, 0, 'the completion that failed wrote nothing');
      assert.equal((await queue.get(first.jobId))?.state, 'running');
      assert.equal(await queue.complete(lease, { verdict: 'pass', verdicts: [verdictRow(1, 'pass')] }), true, 'the lease outlived the outage');
      assert.equal((await store.list({ jobId: first.jobId })).length, 1);
      assert.equal((await queue.claim('w2'))?.job.id, second.jobId, 'claims resume');
    } finally {
      await store.close();
    }
  });
  it('fails a transaction whose connection the server drops mid-way (a restart), without an unhandled error, and opens a new one after', async function () {
    this.timeout(120_000);
    if (!server) throw new Error('no PostgreSQL');
    const db = await PostgresDatabase.open(await server.createDatabase());
    try {
      // The connection is out of the pool, between two statements, when the server goes: the pool does
      // not listen on it then, and an error event nobody listens to would end this process.
      await assert.rejects(
        transaction(db.pool, async (client) => {
          await client.query('SELECT 1');
          await server!.stop();
          await client.query('SELECT 1');
        }),
      );
      await server.start();
      assert.equal((await db.tx('after the restart', (client) => client.query<{ n: number }>('SELECT 1 AS n'))).rows[0]?.n, 1);
      assert.equal(db.pool.totalCount, 1, 'the dropped connection was closed, not pooled again');
    } finally {
      await db.close();
    }
  });
});
