import type { Verdict } from '../report/types.js';
import type { NewVerdict } from './types.js';

/**
 * Who asked for a check; lower runs first. `reconcile` is an image the periodic listing of the registry
 * found (most often a push whose notification was lost): after what people asked for, before rescans.
 * The numbers are stored: schema 4 moved rescans from 2 to 3.
 */
export const PRIORITIES = { push: 0, manual: 1, reconcile: 2, rescan: 3 } as const;
export type JobPriority = keyof typeof PRIORITIES;

export type JobState = 'queued' | 'running' | 'done' | 'failed';

/** One request for a check, normalised by its receiver and pinned to a digest. */
export interface IngestEvent {
  /** The receiver that took it (`distribution`, `harbor`, `api`…). */
  readonly receiver: string;
  /** The sender's id for the event; a second delivery with the same id is the same event. */
  readonly eventId: string;
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string | undefined;
  readonly digest: string;
}

export interface EnqueueRequest {
  readonly event: IngestEvent;
  readonly priority: JobPriority;
  /** The policy digest of the rules in force: a verdict is only reused under the same rules… */
  readonly rulesDigest: string;
  /** …and the same feed snapshots. */
  readonly feedsState: string;
}

export interface Enqueued {
  readonly jobId: number;
  /** The job already existed for this digest, rules and feeds: no second check. */
  readonly deduped: boolean;
  /** The sender delivered this event id before; nothing new was written. */
  readonly duplicateEvent: boolean;
}

export interface Job {
  readonly id: number;
  readonly digest: string;
  readonly registry: string;
  readonly repository: string;
  /** The first tag a request named, for people; the check itself is by digest. */
  readonly tag?: string | undefined;
  readonly rulesDigest: string;
  readonly feedsState: string;
  readonly priority: JobPriority;
  readonly state: JobState;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly notBefore: number;
  readonly leaseOwner?: string | undefined;
  readonly leaseExpiresAt?: number | undefined;
  readonly lastError?: string | undefined;
  readonly verdict?: Verdict | undefined;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt?: number | undefined;
}

/** A claimed job and the fencing token every later write for it must carry. */
export interface Lease {
  readonly job: Job;
  readonly token: number;
  readonly expiresAt: number;
}

export type LeaseRef = Pick<Lease, 'token'> & { readonly job: Pick<Job, 'id'> };

export interface JobResult {
  readonly verdict: Verdict;
  /** One row per checked manifest (several for --all-platforms), written in the same transaction. */
  readonly verdicts: readonly NewVerdict[];
}

export interface StoredEvent extends IngestEvent {
  readonly jobId: number;
  readonly receivedAt: number;
}

export interface JobFilter {
  readonly repository?: string | undefined;
  readonly verdict?: Verdict | undefined;
  readonly state?: JobState | undefined;
  /** Created at or after (ms since the epoch). */
  readonly since?: number | undefined;
  readonly until?: number | undefined;
  /** The `next` of the previous page. */
  readonly cursor?: number | undefined;
  readonly limit?: number | undefined;
}

export interface JobPage {
  readonly jobs: readonly Job[];
  readonly next?: number | undefined;
}

export interface QueueStats {
  readonly queued: number;
  readonly running: number;
  readonly failed: number;
  readonly done: number;
  /** Age of the oldest runnable queued job, 0 when none. */
  readonly oldestQueuedMs: number;
}

export interface QueueSettings {
  readonly leaseMs: number;
  readonly maxAttempts: number;
  /** First retry delay; doubles each attempt up to `backoffMaxMs`. */
  readonly backoffMs: number;
  readonly backoffMaxMs: number;
  /** The clock (ms since the epoch); injected so tests can move time. */
  readonly now?: () => number;
}

export type FailOutcome = 'retrying' | 'failed' | 'lost';

/**
 * The durable job queue behind `imggate serve`. Every method is one transaction. The embedded
 * backend is SQLite; a server database implements the same interface (test/store/queue-contract.ts
 * is the suite each backend must pass unchanged).
 */
export interface JobQueue {
  /** Records the event and its job (or links it to the job already there) atomically. */
  enqueue(request: EnqueueRequest): Promise<Enqueued>;
  /** The runnable job of highest priority, oldest first, leased to `worker`; attempts count here. */
  claim(worker: string): Promise<Lease | undefined>;
  /** Extends the lease; false when it was lost (expired, re-queued, or taken by another worker). */
  heartbeat(lease: LeaseRef): Promise<boolean>;
  /** Writes the verdicts and ends the job, only while the lease is held; false when it was lost. */
  complete(lease: LeaseRef, result: JobResult): Promise<boolean>;
  /** A failed attempt: re-queued with backoff, or `failed` after the last attempt. */
  fail(lease: LeaseRef, error: string): Promise<FailOutcome>;
  /** Gives the job back without counting the attempt (shutdown). */
  release(lease: LeaseRef): Promise<boolean>;
  /** Re-queues (or fails, when out of attempts) every job whose lease has expired; returns how many. */
  expireLeases(): Promise<number>;
  /** A `failed` job queued again with its attempts reset; false for any other state. */
  retry(jobId: number): Promise<boolean>;
  get(jobId: number): Promise<Job | undefined>;
  list(filter: JobFilter): Promise<JobPage>;
  events(jobId: number): Promise<StoredEvent[]>;
  stats(): Promise<QueueStats>;
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
}
