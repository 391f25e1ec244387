import * as z from '../../zod.js';
import type { Receiver } from './types.js';
import { DIGEST, invalid, parseJson } from './payload.js';

/**
 * The generic signed form (Standard Webhooks): `{"type": "image.pushed", "data": {registry,
 * repository, tag?, digest?}}`; the event id is the `webhook-id` header the signature covers.
 */
const schema = z.strictObject({
  type: z.string(),
  timestamp: z.optional(z.string()),
  data: z.strictObject({
    registry: z.string().check(z.minLength(1), z.maxLength(255)),
    repository: z.string().check(z.minLength(1), z.maxLength(255)),
    tag: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/))),
    digest: z.optional(z.string().check(z.regex(DIGEST))),
  }),
});

export const generic: Receiver = {
  type: 'generic',
  mediaTypes: ['application/json'],
  parse(delivery) {
    const body = parseJson(schema, delivery.body, 'webhook');
    if (body.type !== 'image.pushed') return [];
    const id = delivery.headers['webhook-id'];
    if (typeof id !== 'string' || !id) throw invalid('webhook-id is missing');
    const { registry, repository, tag, digest } = body.data;
    if (!tag && !digest) throw invalid('data: neither a tag nor a digest');
    return [{ eventId: id, registry, repository, tag, digest }];
  },
};
