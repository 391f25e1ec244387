import * as z from '../../zod.js';
import type { ReceivedEvent, Receiver } from './types.js';
import { derivedId, invalid, parseJson } from './payload.js';

/**
 * Senders that name a tag and no digest. The registry is the receiver's configured one (these
 * payloads name no host the gate should trust); the service resolves each tag to a digest at ingest.
 */
const REPO = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

function event(kind: string, registry: string | undefined, repository: string, tag: string, stamp: string): ReceivedEvent {
  if (!registry) throw invalid(`${kind}: the receiver names no registry`);
  if (!REPO.test(repository)) throw invalid(`${kind}: repository "${repository.slice(0, 200)}" is not a repository name`);
  if (!TAG.test(tag)) throw invalid(`${kind}: "${tag.slice(0, 200)}" is not a tag`);
  return { eventId: derivedId(kind, registry, repository, tag, stamp), registry, repository, tag };
}

/** Docker Hub: `push_data.tag`, `repository.repo_name`. */
const hubSchema = z.looseObject({
  push_data: z.looseObject({ tag: z.string(), pushed_at: z.optional(z.number()) }),
  repository: z.looseObject({ repo_name: z.string() }),
});

export const dockerhub: Receiver = {
  type: 'dockerhub',
  mediaTypes: ['application/json'],
  parse(delivery, context) {
    const body = parseJson(hubSchema, delivery.body, 'Docker Hub event');
    const repo = body.repository.repo_name.includes('/') ? body.repository.repo_name : `library/${body.repository.repo_name}`;
    return [event('dockerhub', context.registry, repo, body.push_data.tag, String(body.push_data.pushed_at ?? ''))];
  },
};

/** Quay: `repository` (namespace/name) and `updated_tags`. */
const quaySchema = z.looseObject({ repository: z.string(), updated_tags: z.array(z.string()).check(z.minLength(1), z.maxLength(100)) });

export const quay: Receiver = {
  type: 'quay',
  mediaTypes: ['application/json'],
  parse(delivery, context) {
    const body = parseJson(quaySchema, delivery.body, 'Quay event');
    const stamp = derivedId(delivery.body.toString('utf8'));
    return body.updated_tags.map((tag) => event('quay', context.registry, body.repository, tag, stamp));
  },
};
