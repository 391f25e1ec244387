import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SqliteJobQueue } from '../../src/store/sqlite-queue.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { queueContract } from './queue-contract.js';

// A file, not ':memory:', so WAL and immediate transactions are exercised as the service runs them.
queueContract('embedded SQLite', async (settings) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-queue-'));
  const store = new SqliteStore(path.join(dir, 'imggate.db'));
  return {
    queue: new SqliteJobQueue(store, settings),
    verdictsOf: async (jobId) => store.list({ jobId, limit: 1000 }).length,
    async close() {
      store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
