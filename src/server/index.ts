import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import os from 'node:os';
import type { ConfigFile } from '../config/schema.js';
import { loadGateKey } from '../cli/keys.js';
import { DEFAULT_LIMITS } from '../options.js';
import { loadRules } from '../policy/load-rules.js';
import { openServiceStore } from '../store/index.js';
import type { JobQueue } from '../store/queue.js';
import { buildApp } from './app.js';
import { storeDirOf, updateFeeds } from '../feeds/index.js';
import { feedLockHeld } from '../feeds/lock.js';
import { feedsStateOf, Ingest, registryTagResolver } from './ingest.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { RESCAN_LOCK, Rescanner } from './rescan.js';
import { Reconciler, registryLister } from './reconcile.js';
import { resolveServe, type ServeFlags, type ServeRuntime } from './settings.js';
import { WorkerPool } from './workers.js';

export { resolveServe, SERVE_ENV } from './settings.js';
export { jsonLogger } from './log.js';

export interface ServeOptions {
  readonly config: ConfigFile;
  /** The file the config came from; worker processes read the same one. */
  readonly configFile: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly flags?: ServeFlags;
  readonly log: Logger;
}

export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  readonly runtime: ServeRuntime;
  readonly queue: JobQueue;
  /** SIGTERM: stop taking requests and jobs, finish or release running checks, close the store. */
  shutdown(): Promise<void>;
}

/**
 * Starts `imggate serve`: the embedded store, the queue on it, the workers, the lease sweeper and the
 * HTTP server. Everything that can be wrong with the configuration is found before it listens.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const { config, env, log } = options;
  const runtime = resolveServe(config, env, options.flags);
  const rules = await loadRules(config.rules.dir ?? undefined);
  // Read the key once here so a wrong password stops the start, not every check.
  await loadGateKey(undefined, config, env);
  // The embedded file, or PostgreSQL (`store.database`): its migrations run here, before anything listens.
  const store = await openServiceStore(config, env, { leaseMs: runtime.leaseMs, maxAttempts: runtime.maxAttempts, backoffMs: runtime.backoffMs, backoffMaxMs: runtime.backoffMaxMs }, runtime.concurrency * 2 + 4);
  const { queue } = store;
  const metrics = new Metrics(queue);
  const workerId = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const pool = new WorkerPool({
    queue,
    concurrency: runtime.concurrency,
    leaseMs: runtime.leaseMs,
    checkTimeoutMs: runtime.checkTimeoutMs,
    maxHeapBytes: config.limits.maxHeap ?? DEFAULT_LIMITS.maxHeapBytes,
    allow: runtime.allow,
    configFile: options.configFile,
    rulesDir: rules.dir,
    rulesDigest: rules.digest,
    env,
    workerId,
    metrics,
    log,
    previousVerdict: async (digest) => (await store.verdicts.list({ digest, limit: 1 }))[0]?.verdict,
  });
  metrics.workers = () => pool.counts();
  const ingest = new Ingest({
    queue,
    images: store.images,
    allow: runtime.allow,
    resolveTag: registryTagResolver(config, env),
    rulesDigest: rules.digest,
    feedsState: feedsStateOf(config, env),
    metrics,
    log,
    notify: () => pool.notify(),
  });
  const rescanSettings = config.serve.rescan;
  const rescanner = rescanSettings.enabled
    ? new Rescanner({
        queue,
        images: () => store.images.current(),
        rulesDigest: rules.digest,
        feedsState: feedsStateOf(config, env, 0),
        feedsBusy: () => feedLockHeld(storeDirOf(config, env)),
        lock: () => store.images.tryLock(RESCAN_LOCK, workerId, Math.max(3 * rescanSettings.interval, 60_000)),
        intervalMs: rescanSettings.interval,
        feedsUpdate: rescanSettings.feedsUpdate === undefined ? undefined : { everyMs: rescanSettings.feedsUpdate, run: () => updateFeeds(config, env).then(() => undefined) },
        metrics,
        log,
        notify: () => pool.notify(),
      })
    : undefined;
  const app = buildApp({ runtime, queue, verdicts: store.verdicts, images: store.images, ingest, metrics, log, workersAlive: () => pool.alive });
  const reconciler = runtime.reconcile
    ? new Reconciler({ images: store.images, ingest, lister: registryLister(config, env), watch: runtime.reconcile.watch, intervalMs: runtime.reconcile.intervalMs, owner: workerId, metrics, log })
    : undefined;

  // Leases of dead workers (this process killed earlier, another machine lost) come back continuously.
  const sweep = setInterval(() => {
    queue.expireLeases().then(
      (n) => {
        if (n) {
          metrics.leaseExpiries.inc(n);
          log.warn('expired leases re-queued', { jobs: n });
          pool.notify();
        }
      },
      (err: unknown) => log.error('lease sweep failed', { error: (err as Error).message }),
    );
  }, Math.max(100, Math.min(5_000, Math.floor(runtime.leaseMs / 2))));

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(runtime.port, runtime.host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  // Slow senders must not hold sockets open forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  // Longer than senders' idle keep-alive (undici's is 4 s), so a sender never reuses a socket the
  // server is closing at that moment (a reset the sender would have to retry).
  server.keepAliveTimeout = 65_000;
  pool.start();
  rescanner?.start();
  reconciler?.start();
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : runtime.port;
  const host = runtime.host.includes(':') ? `[${runtime.host}]` : runtime.host;
  const url = `http://${host}:${port}`;
  log.info('listening', { url, worker: workerId, concurrency: runtime.concurrency, receivers: [...runtime.receivers.keys()].join(',') });

  let closing: Promise<void> | undefined;
  return {
    url,
    runtime,
    queue,
    shutdown() {
      closing ??= (async () => {
        log.info('shutting down: no new jobs; draining', { running: pool.active });
        clearInterval(sweep);
        await rescanner?.stop();
        if (rescanner) await store.images.unlock(RESCAN_LOCK, workerId).catch(() => undefined);
        await reconciler?.stop();
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        await pool.drain(runtime.drainTimeoutMs);
        server.closeAllConnections();
        await closed;
        await store.close();
        log.info('stopped');
      })();
      return closing;
    },
  };
}
