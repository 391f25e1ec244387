import * as z from '../../zod.js';
import type { ReceivedEvent, Receiver } from './types.js';
import { invalid, parseJson } from './payload.js';

/**
 * CNCF distribution notifications. 2.x posts an envelope of several events
 * (`application/vnd.docker.distribution.events.v1+json`); 3.x posts one event per request
 * (`…events.v2+json`). Manifest pushes are images to check; deletes (of a tag, of a manifest by
 * digest, of a repository) tell the image inventory what is gone. Blob pushes, pulls (the gate's own
 * among them) and mounts are ignored.
 */
export const V1 = 'application/vnd.docker.distribution.events.v1+json';
export const V2 = 'application/vnd.docker.distribution.events.v2+json';

const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

const event = z.looseObject({
  id: z.string().check(z.minLength(1), z.maxLength(200)),
  action: z.string(),
  target: z.looseObject({
    mediaType: z.optional(z.string()),
    digest: z.optional(z.string()),
    repository: z.optional(z.string()),
    url: z.optional(z.string()),
    tag: z.optional(z.string()),
  }),
  request: z.optional(z.looseObject({ host: z.optional(z.string()), useragent: z.optional(z.string()) })),
});
type DistributionEvent = z.infer<typeof event>;

const envelope = z.strictObject({ events: z.array(event).check(z.maxLength(1000)) });

/** cosign's and the referrers tag schema's artifact tags: signatures and verdicts, not images. */
export const ARTIFACT_TAG = /^sha256-[a-f0-9]{64}(?:\.[a-z]+)?$/;

/**
 * The host clients talked to: the URL the registry built for the manifest, else the request's Host.
 * Deletes carry no URL, only the request.
 */
function registryOf(e: DistributionEvent): string {
  let registry = e.request?.host;
  if (e.target.url) {
    try {
      registry = new URL(e.target.url).host;
    } catch {
      throw invalid(`event ${e.id}: target.url is not a URL`);
    }
  }
  if (!registry) throw invalid(`event ${e.id}: neither target.url nor request.host names the registry`);
  return registry;
}

const SHA256 = /^sha256:[a-f0-9]{64}$/;

/**
 * distribution writes a delete as {repository, tag} (a tag), {repository, digest} (a manifest; a blob
 * delete looks the same, and names no image the inventory holds) or {repository} (the repository).
 */
function deleted(e: DistributionEvent): ReceivedEvent {
  const { repository, digest, tag } = e.target;
  if (!repository) throw invalid(`event ${e.id}: target.repository is missing`);
  if (digest !== undefined && !SHA256.test(digest)) throw invalid(`event ${e.id}: target.digest is not a sha256 digest`);
  return { eventId: e.id, registry: registryOf(e), repository, tag: tag || undefined, digest, deleted: true };
}

function normalise(e: DistributionEvent): ReceivedEvent | undefined {
  if (e.action === 'delete') return deleted(e);
  if (e.action !== 'push' || !e.target.mediaType || !MANIFEST_TYPES.has(e.target.mediaType)) return undefined;
  // The gate's own pushes (its signed verdicts) would otherwise be checked, attested, and pushed again,
  // forever. Someone posing as the gate only keeps their image unchecked, and so without a verdict:
  // verify-attestation still refuses it at deploy time.
  if (e.request?.useragent?.startsWith('imggate/')) return undefined;
  if (e.target.tag && ARTIFACT_TAG.test(e.target.tag)) return undefined;
  const { repository, digest, tag } = e.target;
  if (!repository) throw invalid(`event ${e.id}: target.repository is missing`);
  if (!digest || !SHA256.test(digest)) throw invalid(`event ${e.id}: target.digest is not a sha256 digest`);
  return { eventId: e.id, registry: registryOf(e), repository, tag: tag || undefined, digest };
}

export const distribution: Receiver = {
  type: 'distribution',
  mediaTypes: [V1, V2, 'application/json'],
  parse(delivery) {
    if (delivery.mediaType === V2) {
      // 3.x: one event per request; tolerate the envelope too, which some 3.x builds still send.
      const data: unknown = parseJson(z.unknown(), delivery.body, 'distribution event');
      const wrapped = envelope.safeParse(data);
      const events: DistributionEvent[] = wrapped.success ? wrapped.data.events : [parseJson(event, delivery.body, 'distribution event')];
      return events.map(normalise).filter((e): e is ReceivedEvent => e !== undefined);
    }
    return parseJson(envelope, delivery.body, 'distribution envelope').events.map(normalise).filter((e): e is ReceivedEvent => e !== undefined);
  },
};
