import { randomInt } from 'node:crypto';
import { ImggateError } from '../errors.js';
import { digestOf, parseDigest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { parseManifest } from '../oci/manifest.js';
import { imageIndexSchema, type Descriptor, type ImageIndex, type ImageManifest } from '../oci/schemas.js';
import type { RegistryClient } from './client.js';

/** The empty JSON blob (`{}`) artifacts use as their config, per the OCI image spec's empty descriptor. */
const EMPTY = Buffer.from('{}');

/** The referrers tag schema: `sha256-<hex>` names the index of an image's referrers. */
export function referrersTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex}`;
}

export interface Referrers {
  readonly descriptors: readonly Descriptor[];
  /** How they were found: the registry's referrers API, or the fallback tag. */
  readonly via: 'api' | 'tag';
}

/**
 * Lists the manifests that name `digest` as their subject: the referrers API when the registry has it,
 * the referrers tag otherwise. Filtered by artifactType here too, since registries may ignore the filter.
 */
export async function listReferrers(client: RegistryClient, repository: string, digest: string, artifactType?: string): Promise<Referrers> {
  const fromApi = await client.getReferrers(repository, digest, artifactType);
  let index: ImageIndex;
  let via: Referrers['via'] = 'api';
  if (fromApi) {
    index = parseIndex(fromApi, `referrers of ${digest}`);
  } else {
    via = 'tag';
    const tagged = await readTagIndex(client, repository, digest);
    index = tagged?.index ?? { schemaVersion: 2, manifests: [] };
  }
  const descriptors = artifactType ? index.manifests.filter((d) => d.artifactType === artifactType) : index.manifests;
  return { descriptors, via };
}

/** A referrer's manifest, fetched by digest and verified; `about` says whether its subject is the digest asked for. */
export interface ReferrerManifest {
  readonly descriptor: Descriptor;
  readonly manifest: ImageManifest;
  readonly about: boolean;
  /** `registry/repository@digest`, for reports. */
  readonly source: string;
}

/**
 * Fetches a listed referrer's manifest. Undefined when it is gone (a stale index entry) or is an index;
 * a referrer whose own `subject` is another digest is returned with `about: false`, since the tag index
 * is writable by anyone who may push and only the manifest itself says what it refers to.
 */
export async function readReferrer(client: RegistryClient, repository: string, descriptor: Descriptor, subject: string): Promise<ReferrerManifest | undefined> {
  let fetched;
  try {
    fetched = await client.getManifest(repository, descriptor.digest);
  } catch (err) {
    if (err instanceof ImggateError && err.code === 'NOT_FOUND') return undefined;
    throw err;
  }
  const source = `${client.registry}/${repository}@${descriptor.digest}`;
  const parsed = parseManifest(fetched.bytes, fetched.contentType ?? descriptor.mediaType, `referrer ${source}`);
  if (parsed.kind !== 'manifest') return undefined;
  return { descriptor, manifest: parsed.manifest, about: parsed.manifest.subject?.digest === subject, source };
}

export interface Artifact {
  readonly artifactType: string;
  /** The one layer: the artifact's content (a Sigstore bundle, say). */
  readonly blob: Buffer;
  readonly blobMediaType: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface AttachedArtifact {
  readonly manifest: Descriptor;
  /** Whether the registry indexed it itself, or imggate updated the referrers tag. */
  readonly via: 'api' | 'tag';
}

/**
 * Attaches artifacts to `subject` as OCI 1.1 referrers: pushes each one's content and an artifact
 * manifest whose `subject` is the image, and, for those the registry did not index itself, adds the
 * manifests to the referrers tag index in one update, without dropping what other writers put there.
 */
export async function attachArtifacts(client: RegistryClient, repository: string, subject: Descriptor, artifacts: readonly Artifact[]): Promise<AttachedArtifact[]> {
  const config = await client.pushBlob(repository, EMPTY, MediaType.ociEmpty);
  const attached: AttachedArtifact[] = [];
  for (const artifact of artifacts) {
    const layer = await client.pushBlob(repository, artifact.blob, artifact.blobMediaType);
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: artifact.artifactType,
      config,
      layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: artifact.annotations,
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    // Pushed by digest: the artifact stays untagged; the referrers index is what finds it.
    const pushed = await client.putManifest(repository, digestOf(bytes), bytes, MediaType.ociManifest);
    const descriptor: Descriptor = {
      mediaType: MediaType.ociManifest,
      digest: pushed.digest,
      size: bytes.length,
      artifactType: artifact.artifactType,
      annotations: { ...artifact.annotations },
    };
    attached.push({ manifest: descriptor, via: pushed.ociSubject === subject.digest ? 'api' : 'tag' });
  }
  const unindexed = attached.filter((a) => a.via === 'tag').map((a) => a.manifest);
  if (unindexed.length) await addToTagIndex(client, repository, subject.digest, unindexed);
  return attached;
}

/** `attachArtifacts` for one artifact. */
export async function attachArtifact(client: RegistryClient, repository: string, subject: Descriptor, artifact: Artifact): Promise<AttachedArtifact> {
  const [attached] = await attachArtifacts(client, repository, subject, [artifact]);
  return attached as AttachedArtifact;
}

/** Writers to one referrers tag in this process go one at a time; other processes are handled below. */
const tagLocks = new Map<string, Promise<void>>();

/**
 * Read, merge, write, then read back until our entry has been seen twice with a pause between: a
 * concurrent writer that overwrote the index drops our entry, we see it missing and merge it in again.
 * Registries that honour If-Match make the first write conditional; the distribution registry does not,
 * hence the read-back rounds.
 */
async function addToTagIndex(client: RegistryClient, repository: string, subject: string, entries: readonly Descriptor[]): Promise<void> {
  const key = `${client.registry}/${repository}@${subject}`;
  const previous = tagLocks.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const chained = previous.then(() => mine);
  tagLocks.set(key, chained);
  await previous;
  try {
    let seen = 0;
    for (let round = 0; round < 12; round++) {
      const current = await readTagIndex(client, repository, subject);
      const manifests = current?.index.manifests ?? [];
      const missing = entries.filter((e) => !manifests.some((d) => d.digest === e.digest));
      if (missing.length === 0) {
        if (++seen >= 2) return;
      } else {
        seen = 0;
        const index = {
          schemaVersion: 2,
          mediaType: MediaType.ociIndex,
          manifests: [...manifests, ...missing],
        };
        try {
          await client.putManifest(repository, referrersTag(subject), Buffer.from(JSON.stringify(index)), MediaType.ociIndex, current?.etag);
        } catch (err) {
          if (!(err instanceof ImggateError && err.code === 'PRECONDITION_FAILED')) throw err;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 40 + randomInt(120)));
    }
    throw new ImggateError('HTTP_ERROR', `the referrers index ${repository}:${referrersTag(subject)} kept changing; ${entries.map((e) => e.digest).join(', ')} could not be added`);
  } finally {
    release();
    if (tagLocks.get(key) === chained) tagLocks.delete(key);
  }
}

async function readTagIndex(client: RegistryClient, repository: string, subject: string): Promise<{ index: ImageIndex; etag: string | undefined } | undefined> {
  try {
    const fetched = await client.getManifest(repository, referrersTag(subject));
    return { index: parseIndex(fetched.bytes, `referrers tag of ${subject}`), etag: fetched.etag };
  } catch (err) {
    if (err instanceof ImggateError && err.code === 'NOT_FOUND') return undefined;
    throw err;
  }
}

function parseIndex(bytes: Buffer, what: string): ImageIndex {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ImggateError('MANIFEST_INVALID', `${what} is not JSON`, { cause: err });
  }
  const parsed = imageIndexSchema.safeParse(json);
  if (!parsed.success) throw new ImggateError('MANIFEST_INVALID', `${what} is not an image index: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
