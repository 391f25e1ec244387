import type { Verdict } from '../report/types.js';

/**
 * What the service knows is in the registries it watches, kept from push and delete notifications and
 * from the reconcile loop's listings. One row per (registry, repository, tag); an image pushed by digest
 * alone is kept under the tag `@<digest>` (`digestOnlyTag`), which no real tag can be (a tag has no '@'),
 * so every row has a key, each such image its own row, and `seen` stays one upsert.
 */
export const digestOnlyTag = (digest: string): string => `@${digest}`;

/** Whether a row's tag is the stand-in of an image known by digest alone. */
export const isDigestOnlyTag = (tag: string): boolean => tag.startsWith('@');

/** An image that is in the registry now: one digest of one repository and every tag naming it. */
export interface CurrentImage {
  readonly registry: string;
  readonly repository: string;
  readonly digest: string;
  /** Sorted; empty for an image known by digest only. */
  readonly tags: readonly string[];
}

/** An image as the API lists it: what is known of it in the registry, and its latest verdict. */
export interface ImageView extends CurrentImage {
  /** Whether the registry still has it (false once every tag, or the digest, was deleted). */
  readonly current: boolean;
  /** Last time a notification or a listing showed it (ms since the epoch). */
  readonly seenAt: number;
  readonly removedAt?: number | undefined;
  /** The latest verdict stored for the digest, when there is one. */
  readonly verdict?: Verdict | undefined;
  readonly checkedAt?: string | undefined;
}

export interface ImageQuery {
  /** Repository path inside its registry, e.g. team/app. */
  readonly repository?: string | undefined;
  /**
   * Only images whose latest verdict was recorded at or after this time (ms since the epoch) and
   * differs from the verdict before it for the digest, or is its first.
   */
  readonly changedSince?: number | undefined;
  /** true (the default): only images still in the registry; false: removed ones too. */
  readonly current?: boolean | undefined;
  /** The `next` of the previous page. */
  readonly cursor?: string | undefined;
  readonly limit?: number | undefined;
}

export interface ImagePage {
  readonly images: readonly ImageView[];
  readonly next?: string | undefined;
}

/** Which rows a delete names: a tag, or a digest (every tag naming it), or both. */
export interface RemovedImage {
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
  /** Only rows last seen before this time: a listing does not remove what was pushed after it was taken. */
  readonly seenBefore?: number | undefined;
}

/**
 * The image inventory and the service's locks, in the same store as the queue. Every method is one
 * transaction. Times are ms since the epoch, as in the queue.
 */
export interface ImageStore {
  /** Records that `tag` (or the digest alone, when no tag) names `digest` now; a removed row is current again. */
  seen(registry: string, repository: string, tag: string | undefined, digest: string, at: number): Promise<void>;
  /** Marks the rows a delete names as no longer current; returns how many were current. */
  removed(image: RemovedImage, at: number): Promise<number>;
  /** Every current image, one entry per (registry, repository, digest): what a rescan checks again. */
  current(): Promise<CurrentImage[]>;
  /** The API's listing, ordered by registry, repository and digest. */
  list(query: ImageQuery): Promise<ImagePage>;
  /**
   * Takes the lock `name` for `ttlMs` when it is free, expired, or already `owner`'s (which extends
   * it); false when another owner holds it. Owners' clocks are compared: keep them in sync.
   */
  tryLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Releases the lock if `owner` holds it. */
  unlock(name: string, owner: string): Promise<void>;
}
