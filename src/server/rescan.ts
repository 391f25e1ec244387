import type { CurrentImage } from '../store/images.js';
import type { JobQueue } from '../store/queue.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/** The lock the service's processes take turns on to queue rescans. */
export const RESCAN_LOCK = 'rescan';

export interface RescanDeps {
  readonly queue: JobQueue;
  /** Every image a rescan re-checks: the inventory's current images (`ImageStore.current`). */
  readonly images: () => Promise<readonly CurrentImage[]>;
  /** The digest of the rules loaded at start. */
  readonly rulesDigest: string;
  /** The fingerprint of the feed snapshots in the store, read again on every look. */
  readonly feedsState: () => Promise<string>;
  /**
   * Takes (or renews) the service-wide rescan lock: one process at a time queues rescans, so N gate
   * processes do not each walk the whole inventory. Absent: this process always may.
   */
  readonly lock?: (() => Promise<boolean>) | undefined;
  /** An update of the snapshots is under way: the state read now may be half of one. */
  readonly feedsBusy?: () => Promise<boolean>;
  /** How often the feeds are looked at. */
  readonly intervalMs: number;
  /** Runs `imggate feeds update` inside the service, this often; undefined: only updates made elsewhere count. */
  readonly feedsUpdate?: { readonly everyMs: number; readonly run: () => Promise<void> } | undefined;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Wakes the workers. */
  readonly notify: () => void;
  readonly now?: () => number;
}

/**
 * Re-checks known images when what their verdicts rest on changes: the rules (a service started with
 * other rules) or the feed snapshots (updated on the service's own schedule or by `imggate feeds update`
 * elsewhere). A rescan is a queued job like any other, at the lowest priority, so pushes go first;
 * the layer cache holds the layers' facts, so a rescan fetches the manifest and config and no layer.
 *
 * Queueing is idempotent: a rescan's event id names the rules, the feeds and the digest, and the queue
 * keeps one job per (digest, rules, feeds), so several service processes may queue the same rescans
 * at once without checking anything twice.
 */
export class Rescanner {
  readonly #d: RescanDeps;
  /** The (rules, feeds) state whose rescans are all queued. */
  #queued: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #lastUpdate = 0;

  constructor(deps: RescanDeps) {
    this.#d = deps;
  }

  start(): void {
    this.#lastUpdate = this.#now();
    this.#timer = setInterval(() => void this.tick(), this.#d.intervalMs);
    void this.tick();
  }

  /** Stops looking; resolves when a pass under way has ended. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One look (also called by tests): updates the feeds when due, then queues rescans if the state moved. */
  tick(): Promise<void> {
    this.#running ??= this.#tick().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #tick(): Promise<void> {
    const { feedsUpdate, log, lock } = this.#d;
    // The scheduled update too is one process's work: several processes updating one store's feeds in
    // turn would make a new state, and a round of rescans, each.
    if (feedsUpdate && this.#now() - this.#lastUpdate >= feedsUpdate.everyMs && (!lock || (await lock().catch(() => false)))) {
      this.#lastUpdate = this.#now();
      try {
        await feedsUpdate.run();
        log.info('feeds updated');
      } catch (err) {
        this.#d.metrics.rescanFailures.inc();
        log.error('feeds update failed; the snapshots in the store stay as they were', { error: (err as Error).message });
      }
    }
    try {
      await this.queueRescans();
    } catch (err) {
      this.#d.metrics.rescanFailures.inc();
      log.error('queueing rescans failed; tried again at the next look', { error: (err as Error).message });
    }
  }

  /** Queues a rescan of every known image unless this (rules, feeds) state was already handled; returns how many jobs are new. */
  async queueRescans(): Promise<number> {
    const { queue, rulesDigest, metrics, log, feedsBusy, lock } = this.#d;
    // A state read while an update runs, or that one started during, is left for the next look.
    if (await feedsBusy?.()) return 0;
    if (lock && !(await lock())) {
      // Another process does it; should it die, whoever takes the lock over starts from no state.
      this.#queued = undefined;
      return 0;
    }
    const feedsState = await this.#d.feedsState();
    if (await feedsBusy?.()) return 0;
    const state = `${rulesDigest} ${feedsState}`;
    if (state === this.#queued) return 0;
    const images = await this.#d.images();
    let queued = 0;
    for (const image of images) {
      const r = await queue.enqueue({
        event: {
          receiver: 'rescan',
          eventId: `rescan:${rulesDigest}:${feedsState}:${image.registry}/${image.repository}@${image.digest}`,
          registry: image.registry,
          repository: image.repository,
          tag: image.tags[0],
          digest: image.digest,
        },
        priority: 'rescan',
        rulesDigest,
        feedsState,
      });
      if (!r.deduped && !r.duplicateEvent) queued++;
    }
    this.#queued = state;
    if (queued) {
      metrics.rescansQueued.inc(queued);
      log.info('rescans queued: the rules or feeds changed', { images: images.length, queued, feedsState });
      this.#d.notify();
    }
    return queued;
  }

  #now(): number {
    return (this.#d.now ?? Date.now)();
  }
}
