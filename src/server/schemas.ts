import * as z from '../zod.js';

/**
 * The API's request and response shapes. The same schemas validate requests and generate
 * /openapi.json, so the document cannot drift from what the server accepts.
 */
export const checkRequest = z
  .strictObject({
    reference: z.string().check(z.minLength(1), z.maxLength(4096)).clone().register(z.globalRegistry, { description: 'An image in an allowed registry, by tag or digest' }),
    priority: z._default(z.enum(['manual', 'rescan']), 'manual').clone().register(z.globalRegistry, { description: 'Manual checks run after pushes; rescans last' }),
  }).clone().register(z.globalRegistry, { id: 'CheckRequest' });

const timestamp = z.union([z.iso.datetime({ offset: true }), z.string().check(z.regex(/^[0-9]{1,15}$/))]);

export const listQuery = z
  .strictObject({
    repository: z.optional(z.string().check(z.maxLength(255))).clone().register(z.globalRegistry, { description: 'Repository path inside its registry, e.g. team/app' }),
    verdict: z.optional(z.enum(['pass', 'fail', 'error'])),
    state: z.optional(z.enum(['queued', 'running', 'done', 'failed'])),
    since: z.optional(timestamp).clone().register(z.globalRegistry, { description: 'Created at or after (RFC 3339 or ms since the epoch)' }),
    until: z.optional(timestamp).clone().register(z.globalRegistry, { description: 'Created before' }),
    cursor: z.optional(z.string().check(z.regex(/^[0-9]{1,15}$/))).clone().register(z.globalRegistry, { description: 'The `next` of the previous page' }),
    limit: z.optional(z.string().check(z.regex(/^[0-9]{1,3}$/))).clone().register(z.globalRegistry, { description: 'Page size, 1 to 500 (default 50)' }),
  }).clone().register(z.globalRegistry, { id: 'CheckListQuery' });

export const imageListQuery = z
  .strictObject({
    repository: z.optional(z.string().check(z.maxLength(255))).clone().register(z.globalRegistry, { description: 'Repository path inside its registry, e.g. team/app' }),
    current: z.optional(z.enum(['true', 'false'])).clone().register(z.globalRegistry, { description: 'false: images deleted from the registry too (default true)' }),
    changedSince: z.optional(timestamp).clone().register(z.globalRegistry, { description: 'Only images whose latest verdict was recorded at or after this time and differs from the one before it for the digest, or is its first (RFC 3339 or ms since the epoch)' }),
    cursor: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_-]{1,2048}$/))).clone().register(z.globalRegistry, { description: 'The `next` of the previous page' }),
    limit: z.optional(z.string().check(z.regex(/^[0-9]{1,3}$/))).clone().register(z.globalRegistry, { description: 'Page size, 1 to 500 (default 50)' }),
  }).clone().register(z.globalRegistry, { id: 'ImageListQuery' });

export const imageListEntry = z
  .object({
    registry: z.string(),
    repository: z.string(),
    digest: z.string(),
    tags: z.array(z.string()).clone().register(z.globalRegistry, { description: 'The tags naming it now (or, for a removed image, the ones it had); empty when known by digest only' }),
    current: z.boolean().clone().register(z.globalRegistry, { description: 'Whether the registry still has it' }),
    seenAt: z.string().clone().register(z.globalRegistry, { description: 'Last time a notification or the reconcile loop showed it' }),
    removedAt: z.optional(z.string()),
    verdict: z.optional(z.enum(['pass', 'fail', 'error'])).clone().register(z.globalRegistry, { description: 'The latest verdict for the digest, when there is one' }),
    checkedAt: z.optional(z.string()),
  }).clone().register(z.globalRegistry, { id: 'ImageListEntry' });

export const imageList = z.object({ images: z.array(imageListEntry), next: z.optional(z.string()) }).clone().register(z.globalRegistry, { id: 'ImageList' });

export const jobId = z.string().check(z.regex(/^[0-9]{1,15}$/));
export const digestParam = z.string().check(z.regex(/^sha256:[a-f0-9]{64}$/));

const verdictSummary = z
  .object({
    id: z.number().check(z.int()),
    reference: z.string(),
    platform: z.optional(z.string()),
    verdict: z.enum(['pass', 'fail', 'error']),
    checkedAt: z.string(),
    attestations: z.optional(z.array(z.object({ predicateType: z.string(), bundleDigest: z.string(), manifest: z.optional(z.string()), via: z.optional(z.string()) }))),
  }).clone().register(z.globalRegistry, { id: 'VerdictSummary' });

export const checkResponse = z
  .object({
    id: z.number().check(z.int()),
    digest: z.string(),
    registry: z.string(),
    repository: z.string(),
    tag: z.optional(z.string()),
    state: z.enum(['queued', 'running', 'done', 'failed']),
    priority: z.enum(['push', 'manual', 'reconcile', 'rescan']),
    attempts: z.number().check(z.int()),
    maxAttempts: z.number().check(z.int()),
    verdict: z.optional(z.enum(['pass', 'fail', 'error'])),
    lastError: z.optional(z.string()),
    createdAt: z.string(),
    finishedAt: z.optional(z.string()),
    events: z.optional(z.array(z.object({ receiver: z.string(), eventId: z.string(), tag: z.optional(z.string()), receivedAt: z.string() }))),
    verdicts: z.optional(z.array(verdictSummary)),
  }).clone().register(z.globalRegistry, { id: 'Check' });

export const checkList = z.object({ checks: z.array(checkResponse), next: z.optional(z.string()) }).clone().register(z.globalRegistry, { id: 'CheckList' });

export const accepted = z
  .object({
    accepted: z.array(z.object({ eventId: z.string(), id: z.number().check(z.int()), digest: z.string(), deduped: z.boolean() })),
  }).clone().register(z.globalRegistry, { id: 'Accepted' });

export const imageResponse = z
  .object({
    digest: z.string(),
    verdict: z.enum(['pass', 'fail', 'error']),
    reference: z.string(),
    checkedAt: z.string(),
    checkId: z.optional(z.number().check(z.int())),
    attestations: verdictSummary.shape.attestations,
    report: z.record(z.string(), z.unknown()).clone().register(z.globalRegistry, { description: 'The imggate.report/v1 report' }),
  }).clone().register(z.globalRegistry, { id: 'Image' });

export const errorResponse = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).clone().register(z.globalRegistry, { id: 'Error' });
