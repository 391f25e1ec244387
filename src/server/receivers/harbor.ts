import * as z from '../../zod.js';
import type { Delivery, ReceivedEvent, Receiver } from './types.js';
import { derivedId, DIGEST, invalid, parseJson, splitImage } from './payload.js';

/**
 * Harbor webhooks: `PUSH_ARTIFACT` in Harbor's default JSON, and `harbor.artifact.pushed` as a
 * CloudEvent, in binary mode (`ce-*` headers, the data as the body) or structured mode
 * (`application/cloudevents+json`). Other event types (pulls, deletes, scans) are ignored.
 */
const resource = z.looseObject({ digest: z.optional(z.string()), tag: z.optional(z.string()), resource_url: z.string().check(z.minLength(1)) });
const data = z.looseObject({ resources: z.array(resource).check(z.maxLength(1000)), repository: z.optional(z.looseObject({ repo_full_name: z.optional(z.string()) })) });
const native = z.looseObject({ type: z.string(), occur_at: z.optional(z.number()), event_data: z.optional(data) });
const structured = z.looseObject({ specversion: z.string(), id: z.string().check(z.minLength(1), z.maxLength(200)), type: z.string(), data: z.optional(data) });

const PUSHED = 'harbor.artifact.pushed';
export const CLOUDEVENTS = 'application/cloudevents+json';

function fromResources(resources: z.infer<typeof data>['resources'], idOf: (r: z.infer<typeof resource>, i: number) => string): ReceivedEvent[] {
  return resources.map((r, i) => {
    const image = splitImage(r.resource_url);
    const digest = r.digest ?? image.digest;
    if (digest !== undefined && !DIGEST.test(digest)) throw invalid(`resources.${i}.digest is not a sha256 digest`);
    const tag = r.tag || (image.digest ? undefined : image.tag);
    if (!digest && !tag) throw invalid(`resources.${i}: neither a digest nor a tag`);
    return { eventId: idOf(r, i), registry: image.registry, repository: image.repository, tag, digest };
  });
}

function header(delivery: Delivery, name: string): string | undefined {
  const v = delivery.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export const harbor: Receiver = {
  type: 'harbor',
  mediaTypes: ['application/json', CLOUDEVENTS],
  parse(delivery) {
    if (delivery.mediaType === CLOUDEVENTS) {
      const ce = parseJson(structured, delivery.body, 'Harbor CloudEvent');
      if (ce.type !== PUSHED) return [];
      if (!ce.data) throw invalid('Harbor CloudEvent: data is missing');
      return fromResources(ce.data.resources, (_, i) => (i === 0 ? ce.id : `${ce.id}#${i}`));
    }
    const ceType = header(delivery, 'ce-type');
    const ceId = header(delivery, 'ce-id');
    if (ceType !== undefined) {
      if (ceType !== PUSHED) return [];
      if (!ceId) throw invalid('Harbor CloudEvent: ce-id is missing');
      const d = parseJson(data, delivery.body, 'Harbor CloudEvent data');
      return fromResources(d.resources, (_, i) => (i === 0 ? ceId : `${ceId}#${i}`));
    }
    const body = parseJson(native, delivery.body, 'Harbor event');
    if (body.type !== 'PUSH_ARTIFACT') return [];
    if (!body.event_data) throw invalid('Harbor event: event_data is missing');
    // Harbor's default form carries no event id: one derived from what it says dedupes its redeliveries.
    return fromResources(body.event_data.resources, (r) => derivedId('harbor', String(body.occur_at ?? ''), r.resource_url, r.digest ?? ''));
  },
};
