import { PostgresDatabase } from '../../src/store/postgres/database.js';
import { PostgresJobQueue } from '../../src/store/postgres/queue.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { postgresOrSkip, type TestPostgres } from '../harness/postgres.js';
import { queueContract } from './queue-contract.js';

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
});
