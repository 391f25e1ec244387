import { z } from 'zod';

/**
 * The API's request and response shapes. The same schemas validate requests and generate
 * /openapi.json, so the document cannot drift from what the server accepts.
 */
export const checkRequest = z
  .strictObject({
    reference: z.string().min(1).max(4096).describe('An image in an allowed registry, by tag or digest'),
    priority: z.enum(['manual', 'rescan']).default('manual').describe('Manual checks run after pushes; rescans last'),
  })
  .meta({ id: 'CheckRequest' });

const timestamp = z.union([z.iso.datetime({ offset: true }), z.string().regex(/^[0-9]{1,15}$/)]);

export const listQuery = z
  .strictObject({
    repository: z.string().max(255).optional().describe('Repository path inside its registry, e.g. team/app'),
    verdict: z.enum(['pass', 'fail', 'error']).optional(),
    state: z.enum(['queued', 'running', 'done', 'failed']).optional(),
    since: timestamp.optional().describe('Created at or after (RFC 3339 or ms since the epoch)'),
    until: timestamp.optional().describe('Created before'),
    cursor: z.string().regex(/^[0-9]{1,15}$/).optional().describe('The `next` of the previous page'),
    limit: z.string().regex(/^[0-9]{1,3}$/).optional().describe('Page size, 1 to 500 (default 50)'),
  })
  .meta({ id: 'CheckListQuery' });

export const imageListQuery = z
  .strictObject({
    repository: z.string().max(255).optional().describe('Repository path inside its registry, e.g. team/app'),
    current: z.enum(['true', 'false']).optional().describe('false: images deleted from the registry too (default true)'),
    changedSince: timestamp
      .optional()
      .describe('Only images whose latest verdict was recorded at or after this time and differs from the one before it for the digest, or is its first (RFC 3339 or ms since the epoch)'),
    cursor: z.string().regex(/^[A-Za-z0-9_-]{1,2048}$/).optional().describe('The `next` of the previous page'),
    limit: z.string().regex(/^[0-9]{1,3}$/).optional().describe('Page size, 1 to 500 (default 50)'),
  })
  .meta({ id: 'ImageListQuery' });

export const imageListEntry = z
  .object({
    registry: z.string(),
    repository: z.string(),
    digest: z.string(),
    tags: z.array(z.string()).describe('The tags naming it now (or, for a removed image, the ones it had); empty when known by digest only'),
    current: z.boolean().describe('Whether the registry still has it'),
    seenAt: z.string().describe('Last time a notification or the reconcile loop showed it'),
    removedAt: z.string().optional(),
    verdict: z.enum(['pass', 'fail', 'error']).optional().describe('The latest verdict for the digest, when there is one'),
    checkedAt: z.string().optional(),
  })
  .meta({ id: 'ImageListEntry' });

export const imageList = z.object({ images: z.array(imageListEntry), next: z.string().optional() }).meta({ id: 'ImageList' });

export const jobId = z.string().regex(/^[0-9]{1,15}$/);
export const digestParam = z.string().regex(/^sha256:[a-f0-9]{64}$/);

const verdictSummary = z
  .object({
    id: z.number().int(),
    reference: z.string(),
    platform: z.string().optional(),
    verdict: z.enum(['pass', 'fail', 'error']),
    checkedAt: z.string(),
    attestations: z.array(z.object({ predicateType: z.string(), bundleDigest: z.string(), manifest: z.string().optional(), via: z.string().optional() })).optional(),
  })
  .meta({ id: 'VerdictSummary' });

export const checkResponse = z
  .object({
    id: z.number().int(),
    digest: z.string(),
    registry: z.string(),
    repository: z.string(),
    tag: z.string().optional(),
    state: z.enum(['queued', 'running', 'done', 'failed']),
    priority: z.enum(['push', 'manual', 'reconcile', 'rescan']),
    attempts: z.number().int(),
    maxAttempts: z.number().int(),
    verdict: z.enum(['pass', 'fail', 'error']).optional(),
    lastError: z.string().optional(),
    createdAt: z.string(),
    finishedAt: z.string().optional(),
    events: z.array(z.object({ receiver: z.string(), eventId: z.string(), tag: z.string().optional(), receivedAt: z.string() })).optional(),
    verdicts: z.array(verdictSummary).optional(),
  })
  .meta({ id: 'Check' });

export const checkList = z.object({ checks: z.array(checkResponse), next: z.string().optional() }).meta({ id: 'CheckList' });

export const accepted = z
  .object({
    accepted: z.array(z.object({ eventId: z.string(), id: z.number().int(), digest: z.string(), deduped: z.boolean() })),
  })
  .meta({ id: 'Accepted' });

export const imageResponse = z
  .object({
    digest: z.string(),
    verdict: z.enum(['pass', 'fail', 'error']),
    reference: z.string(),
    checkedAt: z.string(),
    checkId: z.number().int().optional(),
    attestations: verdictSummary.shape.attestations,
    report: z.record(z.string(), z.unknown()).describe('The imggate.report/v1 report'),
  })
  .meta({ id: 'Image' });

export const errorResponse = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).meta({ id: 'Error' });
