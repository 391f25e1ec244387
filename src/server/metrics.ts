import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JobQueue, QueueStats } from '../store/queue.js';

/** The service's Prometheus metrics, on a registry of its own (nothing global, so tests can run several). */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'imggate_requests_total', help: 'Webhook and API requests by receiver and status', labelNames: ['receiver', 'status'] as const, registers: [this.registry] });
  readonly checks = new Counter({ name: 'imggate_checks_total', help: 'Finished checks by verdict', labelNames: ['verdict'] as const, registers: [this.registry] });
  readonly checkDuration = new Histogram({
    name: 'imggate_check_duration_seconds',
    help: 'Time a check ran in its worker',
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  readonly leaseExpiries = new Counter({ name: 'imggate_lease_expiries_total', help: 'Jobs put back because their lease expired', registers: [this.registry] });
  readonly dedupeHits = new Counter({ name: 'imggate_dedupe_hits_total', help: 'Requests linked to a job that already existed', registers: [this.registry] });
  readonly reconcilePasses = new Counter({ name: 'imggate_reconcile_passes_total', help: 'Reconcile passes this process ran, by outcome (ok, or partial when a registry or repository failed)', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly reconcileQueued = new Counter({ name: 'imggate_reconcile_images_queued_total', help: 'Images the reconcile loop found that had no check yet under the rules and feeds in force', registers: [this.registry] });
  readonly reconcileRemoved = new Counter({ name: 'imggate_reconcile_images_removed_total', help: 'Tags and digests the reconcile loop found gone from the registry', registers: [this.registry] });
  readonly reconcileFailures = new Counter({ name: 'imggate_reconcile_failures_total', help: 'Reconcile steps that failed, by stage (catalog, tags, manifest, repository)', labelNames: ['stage'] as const, registers: [this.registry] });
  readonly attemptsFailed = new Counter({ name: 'imggate_attempts_failed_total', help: 'Check attempts that ended without a verdict', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly rescansQueued = new Counter({ name: 'imggate_rescans_queued_total', help: 'Known images queued again because the rules or feeds changed', registers: [this.registry] });
  readonly rescanFailures = new Counter({ name: 'imggate_rescan_failures_total', help: 'Scheduled feed updates or rescan passes that failed', registers: [this.registry] });
  readonly verdictsChanged = new Counter({ name: 'imggate_verdicts_changed_total', help: 'Rescans whose verdict differs from the one before, by the new verdict', labelNames: ['verdict'] as const, registers: [this.registry] });

  /** What the worker processes are doing, read at scrape time (set by the pool once it exists). */
  workers: () => { readonly ready: number; readonly busy: number } = () => ({ ready: 0, busy: 0 });

  constructor(queue: JobQueue) {
    const metrics = this;
    new Gauge({
      name: 'imggate_worker_processes',
      help: 'Worker processes of this service: ready (modules loaded, waiting for a job) and busy',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const w = metrics.workers();
        this.set({ state: 'ready' }, w.ready);
        this.set({ state: 'busy' }, w.busy);
      },
    });
    // Read from the store at scrape time: the queue is the truth, shared with any other process. One
    // read serves the gauges of a scrape (prom-client starts every collect before awaiting any). A store
    // that cannot be reached empties the queue's gauges and says so in imggate_store_up, rather than
    // failing the scrape: the counters matter most while the database is away.
    let reading: Promise<QueueStats | undefined> | undefined;
    const stats = (): Promise<QueueStats | undefined> =>
      (reading ??= queue
        .stats()
        .catch(() => undefined)
        .finally(() => (reading = undefined)));
    new Gauge({
      name: 'imggate_store_up',
      help: 'Whether the store answered at this scrape (1) or not (0)',
      registers: [this.registry],
      async collect() {
        this.set((await stats()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'imggate_queue_oldest_job_age_seconds',
      help: 'Age of the oldest runnable queued job',
      registers: [this.registry],
      async collect() {
        const s = await stats();
        if (s) this.set(s.oldestQueuedMs / 1000);
        else this.reset();
      },
    });
    new Gauge({
      name: 'imggate_queue_jobs',
      help: 'Jobs by state',
      labelNames: ['state'] as const,
      registers: [this.registry],
      async collect() {
        const s = await stats();
        this.reset();
        if (s) for (const state of ['queued', 'running', 'failed', 'done'] as const) this.set({ state }, s[state]);
      },
    });
  }
}
