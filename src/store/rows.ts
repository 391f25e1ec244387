import type { Verdict } from '../report/types.js';
import { PRIORITIES, type Job, type JobPriority, type JobState, type StoredEvent } from './queue.js';
import { isDigestOnlyTag, type CurrentImage, type ImagePage, type ImageView } from './images.js';
import { encodeCursor, MAX_PAGE } from './images-sql.js';
import type { StoredVerdict } from './types.js';

/** The store's rows as both backends read them (snake_case columns; queue times in ms since the epoch). */
export interface JobRow {
  id: number;
  digest: string;
  registry: string;
  repository: string;
  tag: string | null;
  rules_digest: string;
  feeds_state: string;
  priority: number;
  state: JobState;
  attempts: number;
  max_attempts: number;
  not_before: number;
  lease_owner: string | null;
  lease_token: number;
  lease_expires: number | null;
  last_error: string | null;
  verdict: Verdict | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface EventRow {
  receiver: string;
  event_id: string;
  registry: string;
  repository: string;
  tag: string | null;
  digest: string;
  job_id: number;
  received_at: number;
}

const PRIORITY_NAMES = Object.fromEntries(Object.entries(PRIORITIES).map(([k, v]) => [v, k])) as Record<number, JobPriority>;

export function toJob(r: JobRow): Job {
  return {
    id: r.id,
    digest: r.digest,
    registry: r.registry,
    repository: r.repository,
    ...(r.tag !== null ? { tag: r.tag } : {}),
    rulesDigest: r.rules_digest,
    feedsState: r.feeds_state,
    priority: PRIORITY_NAMES[r.priority] ?? 'rescan',
    state: r.state,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    notBefore: r.not_before,
    ...(r.lease_owner !== null ? { leaseOwner: r.lease_owner } : {}),
    ...(r.lease_expires !== null ? { leaseExpiresAt: r.lease_expires } : {}),
    ...(r.last_error !== null ? { lastError: r.last_error } : {}),
    ...(r.verdict !== null ? { verdict: r.verdict } : {}),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    ...(r.finished_at !== null ? { finishedAt: r.finished_at } : {}),
  };
}

export function toEvent(r: EventRow): StoredEvent {
  return {
    receiver: r.receiver,
    eventId: r.event_id,
    registry: r.registry,
    repository: r.repository,
    ...(r.tag !== null ? { tag: r.tag } : {}),
    digest: r.digest,
    jobId: r.job_id,
    receivedAt: r.received_at,
  };
}

export interface VerdictRow {
  id: number;
  digest: string;
  reference: string;
  repository: string;
  platform: string | null;
  verdict: 'pass' | 'fail' | 'error';
  policy_digest: string | null;
  checked_at: string;
  report: string;
  bundle: string | null;
  report_bundle: string | null;
  attestation: string | null;
  job_id: number | null;
}

export function toVerdict(r: VerdictRow): StoredVerdict {
  return {
    id: r.id,
    digest: r.digest,
    reference: r.reference,
    repository: r.repository,
    ...(r.platform ? { platform: r.platform } : {}),
    verdict: r.verdict,
    ...(r.policy_digest ? { policyDigest: r.policy_digest } : {}),
    checkedAt: r.checked_at,
    report: JSON.parse(r.report) as StoredVerdict['report'],
    ...(r.bundle ? { bundle: Buffer.from(r.bundle, 'utf8') } : {}),
    ...(r.report_bundle ? { reportBundle: Buffer.from(r.report_bundle, 'utf8') } : {}),
    ...(r.attestation ? { attestations: JSON.parse(r.attestation) as StoredVerdict['attestations'] } : {}),
    ...(r.job_id !== null ? { jobId: r.job_id } : {}),
  };
}

/** One row of the images listing (src/store/images-sql.ts): tags joined with commas, which no tag holds. */
export interface ImageRow {
  registry: string;
  repository: string;
  digest: string;
  current_tags: string | null;
  all_tags: string | null;
  current: number;
  seen_at: number;
  removed_at: number | null;
  verdict: Verdict | null;
  checked_at: string | null;
}

const tagsOf = (joined: string | null): string[] => [...new Set((joined ?? '').split(',').filter((t) => t !== '' && !isDigestOnlyTag(t)))].sort();

/** An image row as the API reads it (times in ms since the epoch). */
export function toImageView(r: ImageRow): ImageView {
  const current = Number(r.current) === 1;
  return {
    registry: r.registry,
    repository: r.repository,
    digest: r.digest,
    // A removed image is listed with the tags it had.
    tags: tagsOf(current ? r.current_tags : r.all_tags),
    current,
    seenAt: Number(r.seen_at),
    ...(!current && r.removed_at !== null ? { removedAt: Number(r.removed_at) } : {}),
    ...(r.verdict !== null ? { verdict: r.verdict } : {}),
    ...(r.checked_at !== null ? { checkedAt: r.checked_at } : {}),
  };
}

export interface CurrentImageRow {
  registry: string;
  repository: string;
  digest: string;
  tag: string;
}

/** Rows ordered by registry, repository and digest, grouped into one image per digest of a repository. */
export function toCurrentImages(rows: readonly CurrentImageRow[]): CurrentImage[] {
  const out: Array<{ registry: string; repository: string; digest: string; tags: string[] }> = [];
  for (const r of rows) {
    const last = out[out.length - 1];
    const image = last && last.registry === r.registry && last.repository === r.repository && last.digest === r.digest ? last : undefined;
    const into = image ?? { registry: r.registry, repository: r.repository, digest: r.digest, tags: [] };
    if (!image) out.push(into);
    if (!isDigestOnlyTag(r.tag)) into.tags.push(r.tag);
  }
  for (const image of out) image.tags.sort();
  return out;
}

/** The rows of a listing asked for one more than `limit`: a page, and where the next one starts when there is one. */
export function toImagePage(rows: readonly ImageRow[], limit: number | undefined): ImagePage {
  const n = Math.min(Math.max(limit ?? 50, 1), MAX_PAGE);
  const images = rows.slice(0, n).map(toImageView);
  const last = images[images.length - 1];
  return rows.length > n && last ? { images, next: encodeCursor([last.registry, last.repository, last.digest]) } : { images };
}
