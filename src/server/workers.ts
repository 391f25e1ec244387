import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ImggateError } from '../errors.js';
import { errorReport } from '../report/error-report.js';
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
  readonly allow: ReadonlySet<string>;
  readonly configFile: string | undefined;
  readonly rulesDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly workerId: string;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** How often an idle pool looks for runnable jobs (retries whose backoff ended, other processes' jobs). */
  readonly pollMs?: number;
}

interface Running {
  readonly lease: Lease;
  readonly child: ChildProcess;
  readonly done: Promise<void>;
}

/**
 * Runs claimed jobs, each in a child process so a large image never stalls the HTTP event loop and a
 * check that overruns its deadline can be killed outright. Heartbeats keep each lease; a lost lease
 * kills the child, whose result would be refused anyway.
 */
export class WorkerPool {
  readonly #o: WorkerPoolOptions;
  /** Keyed by lease token, not job id: a job re-claimed here while its lost attempt's child is still exiting is two entries. */
  readonly #running = new Map<string, Running>();
  /** Jobs handed back at shutdown: their killed children's exits are not failed attempts. */
  readonly #released = new Set<string>();
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;
  #pumping = false;
  #again = false;
  /** A child forked ahead of need, its modules already loaded: a job does not wait for a process start. */
  #spare: ChildProcess | undefined;

  constructor(options: WorkerPoolOptions) {
    this.#o = options;
  }

  start(): void {
    this.#timer = setInterval(() => this.notify(), this.#o.pollMs ?? 500);
    this.notify();
  }

  get alive(): boolean {
    return this.#timer !== undefined && !this.#stopping;
  }

  get active(): number {
    return this.#running.size;
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
    log.info('check started', fields);
    const child = this.#takeSpare();
    let message: WorkerMessage | undefined;
    let settled: 'timeout' | 'lost' | undefined;
    child.on('message', (m: WorkerMessage) => {
      if (m.type !== 'started') message = m;
    });
    const heartbeat = setInterval(() => {
      this.#o.queue.heartbeat(lease).then(
        (held) => {
          if (!held && !settled) {
            settled = 'lost';
            log.warn('lease lost; stopping the check', fields);
            child.kill('SIGKILL');
          }
        },
        (err: unknown) => log.error('heartbeat failed', { ...fields, error: (err as Error).message }),
      );
    }, Math.max(50, Math.floor(this.#o.leaseMs / 3)));
    const deadline = setTimeout(() => {
      if (settled) return;
      settled = 'timeout';
      log.warn('check overran its deadline; killed', { ...fields, timeoutMs: this.#o.checkTimeoutMs });
      child.kill('SIGKILL');
    }, this.#o.checkTimeoutMs);

    const done = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        clearInterval(heartbeat);
        clearTimeout(deadline);
        this.#finish(lease, reference, started, message, settled, code, signal)
          .catch((err: unknown) => log.error('recording the result failed', { ...fields, error: (err as Error).message }))
          .finally(() => {
            this.#running.delete(key);
            resolve();
            this.notify();
          });
      });
    });
    this.#running.set(key, { lease, child, done });
    if (!this.#o.allow.has(job.registry)) {
      // The allowlist changed since the job was queued: the check is not run, and says why.
      settled = 'timeout';
      message = { type: 'crash', jobId: job.id, message: `registry ${job.registry} is no longer allowed` };
      child.kill('SIGKILL');
      return;
    }
    const task: CheckTask = { type: 'check', jobId: job.id, reference, configFile: this.#o.configFile, rulesDir: this.#o.rulesDir };
    child.send(task);
  }

  #fork(): ChildProcess {
    return fork(CHILD, [], { env: this.#o.env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
  }

  /** The spare child if it is still alive (else a new one), and a new spare behind it. */
  #takeSpare(): ChildProcess {
    const spare = this.#spare;
    this.#spare = undefined;
    const child = spare && spare.exitCode === null && spare.signalCode === null && spare.connected ? spare : this.#fork();
    if (spare && spare !== child) spare.kill('SIGKILL');
    if (!this.#stopping) {
      const next = this.#fork();
      // An idle spare that dies (out of memory, killed) is replaced when it is next needed.
      next.on('error', () => undefined);
      this.#spare = next;
    }
    return child;
  }

  async #finish(lease: Lease, reference: string, started: number, message: WorkerMessage | undefined, settled: 'timeout' | 'lost' | undefined, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const { queue, metrics, log } = this.#o;
    const { job } = lease;
    const fields = { job: job.id, digest: job.digest, attempt: job.attempts };
    const seconds = (Date.now() - started) / 1000;
    if (settled === 'lost' || this.#released.has(`${job.id}:${lease.token}`)) return;
    if (settled === 'timeout' && message?.type !== 'crash') {
      // Fail closed: a check that did not finish in time is an `error` verdict, recorded, never a pass.
      const report = errorReport({ reference, digest: job.digest, mediaType: '', source: 'registry' }, new ImggateError('CHECK_TIMEOUT', `the check ran longer than ${this.#o.checkTimeoutMs} ms and was stopped`), started);
      const ok = await queue.complete(lease, { verdict: 'error', verdicts: [{ digest: job.digest, reference, repository: `${job.registry}/${job.repository}`, verdict: 'error', checkedAt: report.checkedAt, report }] });
      if (ok) {
        metrics.checks.inc({ verdict: 'error' });
        metrics.checkDuration.observe(seconds);
      }
      log.warn('check recorded as error: deadline', { ...fields, recorded: ok });
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
      if (ok) {
        metrics.checks.inc({ verdict });
        metrics.checkDuration.observe(seconds);
      }
      log.info(ok ? 'check done' : 'check done, but the lease was lost: result dropped', { ...fields, verdict, seconds });
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
    this.#spare?.kill('SIGKILL');
    this.#spare = undefined;
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
      r.child.kill('SIGKILL');
    }
    await Promise.all(left.map((r) => r.done));
  }
}
