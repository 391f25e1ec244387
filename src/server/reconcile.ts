import type { ConfigFile } from '../config/schema.js';
import { describeError, isImggateError } from '../errors.js';
import { resolveOptions } from '../options.js';
import { digestOnlyTag, isDigestOnlyTag, type CurrentImage, type ImageStore } from '../store/images.js';
import type { Ingest } from './ingest.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { ARTIFACT_TAG } from './receivers/distribution.js';
import type { ReceivedEvent } from './receivers/types.js';
import { matching, type WatchPattern } from './watch.js';

/** The lock every process of the service asks for before a pass. */
export const RECONCILE_LOCK = 'reconcile';

/** How a pass reads one registry; made per registry and pass, closed after it. */
export interface RegistryLister {
  /** The catalog (for globs). */
  repositories(): Promise<string[]>;
  tags(repository: string): Promise<string[]>;
  /** The digest of the bytes of the manifest the tag names. */
  digest(repository: string, tag: string): Promise<string>;
  /** Whether the registry still has the manifest. */
  exists(repository: string, digest: string): Promise<boolean>;
  close(): void;
}

/** Listers with the registry settings and credentials `check` uses; only called for allowed registries. */
export function registryLister(config: ConfigFile, env: NodeJS.ProcessEnv): (registry: string) => RegistryLister {
  return (registry) => {
    const client = resolveOptions(`${registry}/reconcile`, { config, env }).client(registry, { timeoutMs: 30_000 });
    return {
      repositories: () => client.listRepositories(),
      tags: (repository) => client.listTags(repository),
      digest: async (repository, tag) => (await client.getManifest(repository, tag)).digest,
      exists: async (repository, digest) => (await client.headManifest(repository, digest)) !== undefined,
      close: () => client.close(),
    };
  };
}

export interface ReconcileDeps {
  readonly images: ImageStore;
  /** Records what a pass finds (seen) and queues it, as a webhook would. */
  readonly ingest: Ingest;
  readonly lister: (registry: string) => RegistryLister;
  /** Checked against the allowlist when the settings were resolved. */
  readonly watch: readonly WatchPattern[];
  readonly intervalMs: number;
  /** This process, as the lock's owner. */
  readonly owner: string;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly now?: () => number;
}

export interface PassResult {
  readonly repositories: number;
  /** Images with no check yet under the rules and feeds in force. */
  readonly queued: number;
  /** Tags (and digests) found gone. */
  readonly removed: number;
  readonly failures: number;
}

interface Tally {
  repositories: number;
  queued: number;
  removed: number;
  failures: number;
}

/**
 * The reconcile loop: registries drop notifications they have queued when they restart, so every
 * interval one process of the service (the holder of the `reconcile` lock) lists the watched
 * repositories, records and queues every tag's digest (the queue's dedupe leaves alone what was already
 * checked under the rules and feeds in force) and marks removed the tags that are gone. A repository or
 * registry that fails is logged and tried again next interval, and nothing of it is marked removed.
 *
 * The lock lasts several intervals and its holder renews it every pass (and before every repository),
 * so one process keeps the work while it lives and another takes over once its lock expired.
 */
export class Reconciler {
  readonly #d: ReconcileDeps;
  readonly #now: () => number;
  readonly #ttlMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(deps: ReconcileDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#ttlMs = Math.max(3 * deps.intervalMs, 60_000);
  }

  /** Runs a first pass at once, then one every interval after the previous one ended. */
  start(): void {
    this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.pass()
        .catch((err: unknown) => {
          this.#d.metrics.reconcileFailures.inc({ stage: 'pass' });
          this.#d.log.error('reconcile pass failed', { error: describeError(err) });
        })
        .finally(() => {
          this.#running = undefined;
          this.#schedule(this.#d.intervalMs);
        });
    }, delayMs);
    this.#timer.unref();
  }

  /** Stops the loop, waits for a pass under way, and gives the lock up so another process takes over. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    await this.#d.images.unlock(RECONCILE_LOCK, this.#d.owner).catch((err: unknown) => this.#d.log.warn('reconcile lock not released', { error: describeError(err) }));
  }

  /** One pass, when this process holds the lock; undefined when another one does. */
  async pass(): Promise<PassResult | undefined> {
    const started = this.#now();
    if (!(await this.#d.images.tryLock(RECONCILE_LOCK, this.#d.owner, this.#ttlMs))) return undefined;
    const tally: Tally = { repositories: 0, queued: 0, removed: 0, failures: 0 };
    const known = await this.#d.images.current();
    const registries = new Map<string, WatchPattern[]>();
    for (const w of this.#d.watch) registries.set(w.registry, [...(registries.get(w.registry) ?? []), w]);
    let held = true;
    for (const [registry, patterns] of registries) {
      if (!held || this.#stopped) break;
      const lister = this.#d.lister(registry);
      try {
        for (const repository of await this.#repositories(registry, patterns, lister, tally)) {
          // Renewed before each repository: a long pass keeps the lock, and one that lost it stops.
          held = !this.#stopped && (await this.#d.images.tryLock(RECONCILE_LOCK, this.#d.owner, this.#ttlMs));
          if (!held) break;
          try {
            await this.#repository(registry, repository, lister, known, started, tally);
            tally.repositories++;
          } catch (err) {
            this.#failed('repository', tally, { registry, repository, error: describeError(err) });
          }
        }
      } finally {
        lister.close();
      }
    }
    if (!held) this.#d.log.warn('reconcile pass stopped: the lock went to another process', { owner: this.#d.owner });
    const outcome = tally.failures || !held ? 'partial' : 'ok';
    this.#d.metrics.reconcilePasses.inc({ outcome });
    this.#d.log.info('reconcile pass', { outcome, ...tally, ms: this.#now() - started });
    return { ...tally };
  }

  #failed(stage: string, tally: Tally, fields: Record<string, string>): void {
    tally.failures++;
    this.#d.metrics.reconcileFailures.inc({ stage });
    this.#d.log.warn(`reconcile: ${stage} failed`, fields);
  }

  /** The watched repositories of one registry; the catalog is read only when a pattern is a glob. */
  async #repositories(registry: string, patterns: readonly WatchPattern[], lister: RegistryLister, tally: Tally): Promise<string[]> {
    const out = new Set(patterns.flatMap((p) => (p.repository !== undefined ? [p.repository] : [])));
    if (patterns.some((p) => p.glob)) {
      try {
        const catalog = await lister.repositories();
        for (const p of patterns) for (const name of matching(p, catalog)) out.add(name);
      } catch (err) {
        this.#failed('catalog', tally, { registry, error: describeError(err) });
      }
    }
    return [...out].sort();
  }

  async #repository(registry: string, repository: string, lister: RegistryLister, known: readonly CurrentImage[], started: number, tally: Tally): Promise<void> {
    let listed: string[];
    try {
      listed = await lister.tags(repository);
    } catch (err) {
      // The registry answered that the repository does not exist (any more): it has no tags. Any
      // other failure (down, refused, malformed) leaves what is known as it is.
      if (!(isImggateError(err) && err.code === 'NOT_FOUND')) throw err;
      listed = [];
    }
    const tags = listed.filter((t) => !ARTIFACT_TAG.test(t));
    const events: ReceivedEvent[] = [];
    for (const tag of tags) {
      try {
        const digest = await lister.digest(repository, tag);
        events.push({ eventId: `reconcile:${registry}/${repository}:${tag}@${digest}`, registry, repository, tag, digest });
      } catch (err) {
        // Deleted since the listing: the next pass will not list it.
        if (isImggateError(err) && err.code === 'NOT_FOUND') continue;
        this.#failed('manifest', tally, { registry, repository, tag, error: describeError(err) });
      }
    }
    if (events.length) {
      const accepted = await this.#d.ingest.accept('reconcile', events, 'reconcile', { quiet: true });
      const queued = accepted.filter((a) => !a.deduped).length;
      tally.queued += queued;
      this.#d.metrics.reconcileQueued.inc(queued);
    }
    const present = new Set(tags);
    for (const image of known) {
      if (image.registry !== registry || image.repository !== repository) continue;
      const gone = image.tags.filter((t) => !present.has(t));
      for (const tag of gone) await this.#removed({ registry, repository, tag, seenBefore: started }, tally);
      // Known by digest alone: no listing shows it, so ask for it.
      if (image.tags.length === 0 && !(await lister.exists(repository, image.digest))) {
        await this.#removed({ registry, repository, tag: digestOnlyTag(image.digest), digest: image.digest, seenBefore: started }, tally);
      }
    }
  }

  async #removed(image: { registry: string; repository: string; tag: string; digest?: string; seenBefore: number }, tally: Tally): Promise<void> {
    const n = await this.#d.images.removed(image, this.#now());
    if (!n) return;
    tally.removed += n;
    this.#d.metrics.reconcileRemoved.inc(n);
    this.#d.log.info('reconcile: gone from the registry', { registry: image.registry, repository: image.repository, tag: isDigestOnlyTag(image.tag) ? undefined : image.tag, digest: image.digest });
  }
}
