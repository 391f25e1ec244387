import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ImggateError } from '../errors.js';
import { errorReport } from '../report/error-report.js';
import type { Verdict } from '../report/types.js';
import type { JobQueue, Lease } from '../store/queue.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { fromWire, type CheckTask, type WorkerMessage } from './wire.js';

const CHILD = fileURLToPath(new URL('./worker-child.js', import.meta.url));

export interface WorkerPoolOptions {
  readonly queue: JobQueue;
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly checkTimeoutMs: number;
  /** The JavaScript heap a worker process may use (`limits.maxHeap`); past it the check is an `error` verdict. */
  readonly maxHeapBytes: number;
  readonly allow: ReadonlySet<string>;
  readonly configFile: string | undefined;
  readonly rulesDir: string;
  /** The digest of the rules loaded at start, which jobs are keyed by. */
  readonly rulesDigest: string;
  readonly env: NodeJS.ProcessEnv;
  readonly workerId: string;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** How often an idle pool looks for runnable jobs (retries whose backoff ended, other processes' jobs). */
  readonly pollMs?: number;
  /** The latest stored verdict for a digest: a rescan that reaches the same one is not signed or pushed again. */
  readonly previousVerdict?: (digest: string) => Promise<Verdict | undefined>;
}

interface Running {
  readonly lease: Lease;
  /** None when the job was settled without running (its registry no longer allowed). */
  readonly worker?: Worker;
  readonly done: Promise<void>;
}

/** Why a job ended other than by its process's answer. */
type Settled = 'timeout' | 'lost' | 'heap';

/** A worker process and what the pool knows of it. */
interface Worker {
  readonly child: ChildProcess;
  /** Settles when the process has loaded its modules and listens for jobs (rejects if it dies first). */
  readonly ready: Promise<void>;
  isReady: boolean;
  jobs: number;
  /** V8 said the process ran out of its heap (it aborts right after). */
  outOfHeap: boolean;
}

/** A worker process is retired after this many jobs, or when a check left it this large. */
const JOBS_PER_WORKER = 100;
const RETIRE_RSS_BYTES = 768 * 1024 * 1024;

/**
 * Runs claimed jobs in worker processes, so a large image never stalls the HTTP event loop and a check
 * that overruns its deadline can be killed outright. A process serves many jobs, one at a time, with its
 * modules, configuration, rules and key loaded once; one is kept forked ahead of need. Heartbeats keep
 * each lease; a lost lease kills the process, whose result would be refused anyway.
 */
export class WorkerPool {
  readonly #o: WorkerPoolOptions;
  /** Keyed by lease token, not job id: a job re-claimed here while its lost attempt's process is still exiting is two entries. */
  readonly #running = new Map<string, Running>();
  /** Jobs handed back at shutdown: their killed processes' exits are not failed attempts. */
  readonly #released = new Set<string>();
  /** Rescans' verdicts before them, by lease key, to count the verdicts that changed. */
  readonly #previous = new Map<string, Verdict>();
  /** Processes waiting for a job, their modules loaded. */
  readonly #idle: Worker[] = [];
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;
  #pumping = false;
  #again = false;

  constructor(options: WorkerPoolOptions) {
    this.#o = options;
  }

  start(): void {
    this.#timer = setInterval(() => this.notify(), this.#o.pollMs ?? 500);
    this.#idle.push(this.#fork());
    this.notify();
  }

  get alive(): boolean {
    return this.#timer !== undefined && !this.#stopping;
  }

  get active(): number {
    return this.#running.size;
  }

  /** Idle processes with their modules loaded, and jobs running (the metrics' view). */
  counts(): { ready: number; busy: number } {
    return { ready: this.#idle.filter((w) => w.isReady).length, busy: this.#running.size };
  }

  /** Looks for work now (a webhook was just committed). */
  notify(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    void this.#pump()
      .catch((err: unknown) => this.#o.log.error('claiming a job failed', { error: (err as Error).message }))
      .finally(() => {
        this.#pumping = false;
        if (this.#again) {
          this.#again = false;
          this.notify();
        }
      });
  }

  async #pump(): Promise<void> {
    while (!this.#stopping && this.#running.size < this.#o.concurrency) {
      const lease = await this.#o.queue.claim(this.#o.workerId);
      if (!lease) return;
      this.#start(lease);
    }
  }

  #start(lease: Lease): void {
    const { job } = lease;
    const reference = `${job.registry}/${job.repository}@${job.digest}`;
    const key = `${job.id}:${lease.token}`;
    const started = Date.now();
    const log = this.#o.log;
    const fields = { job: job.id, digest: job.digest, attempt: job.attempts };
    if (!this.#o.allow.has(job.registry)) {
      // The allowlist changed since the job was queued: the check is not run, and says why.
      const crash: WorkerMessage = { type: 'crash', jobId: job.id, message: `registry ${job.registry} is no longer allowed` };
      const done = this.#finish(lease, reference, started, crash, undefined, null, null)
        .catch((err: unknown) => log.error('recording the result failed', { ...fields, error: (err as Error).message }))
        .finally(() => {
          this.#running.delete(key);
          this.notify();
        });
      this.#running.set(key, { lease, done });
      return;
    }
    log.info('check started', fields);
    const worker = this.#take();
    const { child } = worker;
    let message: WorkerMessage | undefined;
    let settled: Settled | undefined;
    let finished = false;
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));

    const end = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (finished) return;
      finished = true;
      clearInterval(heartbeat);
      clearTimeout(deadline);
      child.off('message', onMessage);
      child.off('exit', end);
      const exited = code !== null || signal !== null;
      if (exited && !settled && !message && worker.outOfHeap) settled = 'heap';
      this.#finish(lease, reference, started, message, settled, code, signal)
        .catch((err: unknown) => log.error('recording the result failed', { ...fields, error: (err as Error).message }))
        .finally(() => {
          this.#running.delete(key);
          this.#previous.delete(key);
          if (!exited) this.#putBack(worker, message);
          resolveDone();
          this.notify();
        });
    };
    const onMessage = (m: WorkerMessage): void => {
      if (m.jobId !== job.id || (m.type !== 'result' && m.type !== 'crash')) return;
      message = m;
      // A job stopped for its deadline or its lease ends when its process has exited.
      if (!settled) end(null, null);
    };
    child.on('message', onMessage);
    child.once('exit', end);
    const heartbeat = setInterval(() => {
      this.#o.queue.heartbeat(lease).then(
        (held) => {
          if (!held && !settled && !finished) {
            settled = 'lost';
            log.warn('lease lost; stopping the check', fields);
            child.kill('SIGKILL');
          }
        },
        (err: unknown) => log.error('heartbeat failed', { ...fields, error: (err as Error).message }),
      );
    }, Math.max(50, Math.floor(this.#o.leaseMs / 3)));
    const deadline = setTimeout(() => {
      if (settled || finished) return;
      settled = 'timeout';
      log.warn('check overran its deadline; killed', { ...fields, timeoutMs: this.#o.checkTimeoutMs });
      child.kill('SIGKILL');
    }, this.#o.checkTimeoutMs);

    this.#running.set(key, { lease, worker, done });
    const task: CheckTask = { type: 'check', jobId: job.id, reference, configFile: this.#o.configFile, rulesDir: this.#o.rulesDir, rulesDigest: this.#o.rulesDigest };
    // Only a rescan compares: a push or a manual request is always recorded in full. A store that cannot
    // say what came before leaves the rescan recorded in full too.
    const previous = job.priority === 'rescan' && this.#o.previousVerdict ? this.#o.previousVerdict(job.digest).catch(() => undefined) : Promise.resolve(undefined);
    // A process that dies before it is ready ends the job through its exit.
    Promise.all([worker.ready, previous]).then(([, previousVerdict]) => {
      if (finished || !child.connected) return;
      if (previousVerdict) this.#previous.set(key, previousVerdict);
      child.send({ ...task, previousVerdict });
    }, () => undefined);
  }

  #fork(): Worker {
    const heapMiB = Math.max(64, Math.floor(this.#o.maxHeapBytes / 1024 ** 2));
    const child = fork(CHILD, [], { env: this.#o.env, execArgv: [...process.execArgv, `--max-old-space-size=${heapMiB}`], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: WorkerMessage): void => {
        if (m.type !== 'ready') return;
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
      child.once('exit', () => reject(new Error('the worker process exited before it was ready')));
    });
    const worker: Worker = { child, ready, isReady: false, jobs: 0, outOfHeap: false };
    // The process's errors go to the service's own stderr; V8's last words on a full heap are noted.
    child.stderr?.on('data', (chunk: Buffer) => {
      if (/heap out of memory|Reached heap limit/.test(chunk.toString('latin1'))) worker.outOfHeap = true;
      process.stderr.write(chunk);
    });
    ready.then(() => (worker.isReady = true), () => undefined);
    child.on('error', () => undefined);
    // An idle process that dies (out of memory, killed) leaves the pool; a new one is forked when needed.
    child.once('exit', () => {
      const i = this.#idle.indexOf(worker);
      if (i >= 0) this.#idle.splice(i, 1);
    });
    return worker;
  }

  /** An idle process if one is alive (else a new one), with another forked behind it when none is left. */
  #take(): Worker {
    let worker: Worker | undefined;
    while ((worker = this.#idle.shift())) {
      const { child } = worker;
      if (child.exitCode === null && child.signalCode === null && child.connected) break;
      child.kill('SIGKILL');
    }
    worker ??= this.#fork();
    worker.jobs++;
    if (!this.#stopping && this.#idle.length === 0) this.#idle.push(this.#fork());
    return worker;
  }

  /** After a job: the process waits for the next one, unless it has served enough or grown. */
  #putBack(worker: Worker, message: WorkerMessage | undefined): void {
    const { child } = worker;
    const grown = message?.type === 'result' && message.rss > RETIRE_RSS_BYTES;
    if (this.#stopping || grown || worker.jobs >= JOBS_PER_WORKER || !child.connected || this.#idle.length > this.#o.concurrency) {
      child.kill('SIGKILL');
      return;
    }
    this.#idle.push(worker);
  }

  async #finish(lease: Lease, reference: string, started: number, message: WorkerMessage | undefined, settled: Settled | undefined, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const { queue, metrics, log } = this.#o;
    const { job } = lease;
    const fields = { job: job.id, digest: job.digest, attempt: job.attempts };
    const seconds = (Date.now() - started) / 1000;
    if (settled === 'lost' || this.#released.has(`${job.id}:${lease.token}`)) return;
    if ((settled === 'timeout' || settled === 'heap') && message?.type !== 'crash') {
      // Fail closed: a check that did not finish in time or in its memory is an `error` verdict, recorded, never a pass.
      const error =
        settled === 'timeout'
          ? new ImggateError('CHECK_TIMEOUT', `the check ran longer than ${this.#o.checkTimeoutMs} ms and was stopped`)
          : new ImggateError('LIMIT_EXCEEDED', `the check needed more than ${Math.round(this.#o.maxHeapBytes / 1024 ** 2)} MiB of heap (limits.maxHeap) and was ended`);
      const report = errorReport({ reference, digest: job.digest, mediaType: '', source: 'registry' }, error, started);
      const ok = await queue.complete(lease, { verdict: 'error', verdicts: [{ digest: job.digest, reference, repository: `${job.registry}/${job.repository}`, verdict: 'error', checkedAt: report.checkedAt, report }] });
      if (ok) {
        metrics.checks.inc({ verdict: 'error' });
        metrics.checkDuration.observe(seconds);
      }
      log.warn(`check recorded as error: ${settled === 'timeout' ? 'deadline' : 'heap limit'}`, { ...fields, recorded: ok });
      return;
    }
    if (message?.type === 'result') {
      const { report, problems } = message;
      const last = job.attempts >= job.maxAttempts;
      if (problems.length && !last) {
        const outcome = await queue.fail(lease, problems.join('; '));
        metrics.attemptsFailed.inc({ outcome });
        log.warn('check attempt failed: the verdict could not be recorded', { ...fields, outcome });
        return;
      }
      if (report.verdict === 'error' && !last) {
        // An unreachable registry or a timeout may pass; the last attempt records the error verdict.
        const outcome = await queue.fail(lease, report.error ? `${report.error.code}: ${report.error.message}` : 'the check could not conclude');
        metrics.attemptsFailed.inc({ outcome });
        log.warn('check attempt inconclusive; will retry', { ...fields, outcome, code: report.error?.code });
        return;
      }
      const verdict = problems.length ? 'error' : report.verdict;
      const ok = await queue.complete(lease, { verdict, verdicts: message.verdicts.map(fromWire) });
      const previous = this.#previous.get(`${job.id}:${lease.token}`);
      if (ok) {
        metrics.checks.inc({ verdict });
        metrics.checkDuration.observe(seconds);
        if (previous && previous !== verdict) metrics.verdictsChanged.inc({ verdict });
      }
      log.info(ok ? 'check done' : 'check done, but the lease was lost: result dropped', { ...fields, verdict, seconds, ...(previous ? { previous } : {}) });
      return;
    }
    const why = message?.type === 'crash' ? message.message : `the worker exited (${signal ?? `code ${code}`}) without a result`;
    const outcome = await queue.fail(lease, why);
    metrics.attemptsFailed.inc({ outcome });
    log.warn('check attempt failed', { ...fields, outcome, error: why.slice(0, 300) });
  }

  /**
   * Stops taking jobs, lets running checks finish for up to `timeoutMs`, then kills the rest and gives
   * their jobs back (without counting the attempt).
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const w of this.#idle.splice(0)) w.child.kill('SIGKILL');
    const all = Promise.all([...this.#running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)))]);
    clearTimeout(timer);
    if (!timedOut) return;
    const left = [...this.#running.values()];
    for (const r of left) {
      this.#released.add(`${r.lease.job.id}:${r.lease.token}`);
      const released = await this.#o.queue.release(r.lease);
      this.#o.log.info('job released at shutdown', { job: r.lease.job.id, released });
      r.worker?.child.kill('SIGKILL');
    }
    await Promise.all(left.map((r) => r.done));
  }
}
