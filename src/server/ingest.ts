import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigFile } from '../config/schema.js';
import { ImggateError, type ServerErrorCode } from '../errors.js';
import { storeDirOf } from '../feeds/index.js';
import { resolveOptions } from '../options.js';
import type { ImageStore } from '../store/images.js';
import type { JobPriority, JobQueue } from '../store/queue.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { ReceivedEvent } from './receivers/index.js';

export interface Accepted {
  readonly eventId: string;
  readonly jobId: number;
  readonly digest: string;
  readonly deduped: boolean;
  readonly duplicateEvent: boolean;
}

/** Resolves a tag to the digest of the manifest's bytes; only ever called for an allowed registry. */
export type TagResolver = (registry: string, repository: string, tag: string) => Promise<string>;

export interface IngestDeps {
  readonly queue: JobQueue;
  /** Where pushed images are recorded as seen and deleted ones as removed. */
  readonly images: ImageStore;
  readonly allow: ReadonlySet<string>;
  readonly resolveTag: TagResolver;
  readonly rulesDigest: string;
  readonly feedsState: () => Promise<string>;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Wakes the workers. */
  readonly notify: () => void;
  readonly now?: () => number;
}

export interface AcceptOptions {
  /** Log only events that made a new job (the reconcile loop sends the same events every pass). */
  readonly quiet?: boolean;
}

/**
 * Turns received events into committed jobs, and keeps the image inventory: a push is recorded as
 * seen once its job is committed, a delete marks what it names removed. The allowlist is checked for
 * every event of a delivery before anything is resolved or written: one event naming a foreign registry
 * refuses the delivery, and no connection is made to that host.
 */
export class Ingest {
  readonly #d: IngestDeps;

  constructor(deps: IngestDeps) {
    this.#d = deps;
  }

  /** Commits the delivery's pushes as jobs (returned, in order) and its deletes to the inventory. */
  async accept(receiver: string, events: readonly ReceivedEvent[], priority: JobPriority, options: AcceptOptions = {}): Promise<Accepted[]> {
    for (const e of events) {
      if (!this.#d.allow.has(e.registry)) {
        this.#d.log.warn('event refused: registry not allowed', { receiver, eventId: e.eventId.slice(0, 200), registry: e.registry.slice(0, 255) });
        throw new ImggateError<ServerErrorCode>('REGISTRY_NOT_ALLOWED', `registry ${e.registry.slice(0, 255)} is not one this gate checks`);
      }
    }
    const now = this.#d.now ?? Date.now;
    const pushes = events.filter((e) => !e.deleted);
    for (const e of events) {
      if (!e.deleted) continue;
      const removed = await this.#d.images.removed({ registry: e.registry, repository: e.repository, tag: e.tag, digest: e.digest }, now());
      this.#d.log.info('image deleted in the registry', { receiver, eventId: e.eventId, repository: e.repository, tag: e.tag, digest: e.digest, removed });
    }
    if (pushes.length === 0) return [];
    const feedsState = await this.#d.feedsState();
    const out: Accepted[] = [];
    for (const e of pushes) {
      const digest = e.digest ?? (await this.#d.resolveTag(e.registry, e.repository, e.tag as string));
      const r = await this.#d.queue.enqueue({
        event: { receiver, eventId: e.eventId, registry: e.registry, repository: e.repository, tag: e.tag, digest },
        priority,
        rulesDigest: this.#d.rulesDigest,
        feedsState,
      });
      await this.#d.images.seen(e.registry, e.repository, e.tag, digest, now());
      if (r.deduped) this.#d.metrics.dedupeHits.inc();
      if (!options.quiet || !r.deduped) this.#d.log.info(r.duplicateEvent ? 'event redelivered' : r.deduped ? 'event linked to an existing job' : 'event queued', {
        receiver,
        eventId: e.eventId,
        digest,
        job: r.jobId,
      });
      out.push({ eventId: e.eventId, digest, ...r });
    }
    if (out.length) this.#d.notify();
    return out;
  }
}

/** Tag → digest with the same registry settings and credentials `check` uses. */
export function registryTagResolver(config: ConfigFile, env: NodeJS.ProcessEnv): TagResolver {
  return async (registry, repository, tag) => {
    const resolved = resolveOptions(`${registry}/${repository}:${tag}`, { config, env });
    const client = resolved.client(registry, { timeoutMs: 30_000 });
    try {
      return (await client.getManifest(repository, tag)).digest;
    } finally {
      client.close();
    }
  };
}

/** A feed snapshot's file (`<distro>/<release>/<suite>.json`, `osv/advisories.json`), not a temporary or kept file. */
function isSnapshot(entry: string): boolean {
  return entry.endsWith('.json') && !entry.split(path.sep).some((part) => part.endsWith('.files') || part.endsWith('.tmp') || part.startsWith('.'));
}

/**
 * A fingerprint of the feed snapshots in the store (paths, sizes, modification times): a verdict is
 * reused only under the same feeds, and `imggate feeds update` running elsewhere changes it. Cached
 * for a few seconds so a burst of webhooks reads the directory once.
 */
export function feedsStateOf(config: ConfigFile, env: NodeJS.ProcessEnv, cacheMs = 5_000): () => Promise<string> {
  const dir = path.join(storeDirOf(config, env), 'feeds');
  let cached: { at: number; value: string } | undefined;
  return async () => {
    const now = Date.now();
    if (cached && now - cached.at < cacheMs) return cached.value;
    const hash = createHash('sha256');
    let entries: string[] = [];
    try {
      entries = (await readdir(dir, { recursive: true })).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const entry of entries) {
      // Only the snapshots count; each is renamed into place whole. The lock, files being written and
      // the kept InRelease/index copies (`*.files/`) would make states that never were.
      if (!isSnapshot(entry)) continue;
      const s = await stat(path.join(dir, entry)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (s?.isFile()) hash.update(`${entry}\0${s.size}\0${s.mtimeMs}\n`);
    }
    cached = { at: now, value: `sha256:${hash.digest('hex')}` };
    return cached.value;
  };
}
