import { BUNDLE_MEDIA_TYPE } from '../attest/media-types.js';
import { REPORT_PREDICATE_TYPE, VSA_PREDICATE_TYPE } from '../attest/statement.js';
import { MAX_BUNDLE_BYTES } from '../attest/verify.js';
import { ImggateError } from '../errors.js';
import { parseDigest } from '../oci/digest.js';
import { parseManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor, ImageManifest } from '../oci/schemas.js';
import type { RegistryClient } from '../registry/client.js';
import { listReferrers, readReferrer } from '../registry/referrers.js';
import { JWS_MEDIA_TYPE, NOTATION_ARTIFACT_TYPE } from '../verify/notation.js';
import type { Evidence } from '../verify/types.js';

const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
const COSIGN_SIG_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** Signature payloads and envelopes are small; a larger one is refused, not read. */
const MAX_SIGNATURE_BYTES = 1024 * 1024;
/** At most this many referrers are read per digest. */
const MAX_REFERRERS = 64;

/** Referrer types that may hold a signature; the tag index of some producers records the config type instead. */
const CANDIDATE_TYPES = new Set<string | undefined>([COSIGN_SIG_ARTIFACT, BUNDLE_MEDIA_TYPE, NOTATION_ARTIFACT_TYPE, MediaType.ociEmpty, undefined]);

/**
 * Every signature attached to `digest` in the registry: cosign's `sha256-<hex>.sig` tag, and OCI 1.1
 * referrers (API or tag schema) holding cosign signatures, Sigstore bundles or Notation envelopes.
 * Each manifest and blob is fetched by digest and verified; a referrer whose manifest names another
 * subject is ignored. imggate's own verdict attestations are not signatures and are skipped.
 */
export async function findSignatures(client: RegistryClient, repository: string, digest: string): Promise<Evidence[]> {
  const evidence: Evidence[] = [];
  const { algorithm, hex } = parseDigest(digest);
  const sigTag = `${algorithm}-${hex}.sig`;
  const tagged = await getOptional(client, repository, sigTag);
  if (tagged) {
    const manifest = asManifest(tagged.bytes, tagged.contentType, `${repository}:${sigTag}`);
    evidence.push(...(await simpleSignings(client, repository, manifest, tagged.digest, `${client.registry}/${repository}:${sigTag}`)));
  }
  const referrers = await listReferrers(client, repository, digest);
  for (const d of referrers.descriptors.filter((x) => CANDIDATE_TYPES.has(x.artifactType)).slice(0, MAX_REFERRERS)) {
    if (isVerdict(d.annotations)) continue;
    const referrer = await readReferrer(client, repository, d, digest);
    if (!referrer?.about) continue;
    const { manifest, source } = referrer;
    const type = manifest.artifactType ?? manifest.config.mediaType;
    if (type === COSIGN_SIG_ARTIFACT) {
      evidence.push(...(await simpleSignings(client, repository, manifest, d.digest, source)));
    } else if (type === BUNDLE_MEDIA_TYPE) {
      if (isVerdict(manifest.annotations)) continue;
      for (const layer of manifest.layers.filter((l) => l.mediaType === BUNDLE_MEDIA_TYPE)) {
        evidence.push({ kind: 'sigstore-bundle', source, digest: d.digest, bundle: await client.fetchBlob(repository, layer, MAX_BUNDLE_BYTES) });
      }
    } else if (type === NOTATION_ARTIFACT_TYPE) {
      for (const layer of manifest.layers.filter((l) => l.mediaType === JWS_MEDIA_TYPE || l.mediaType === 'application/cose')) {
        evidence.push({ kind: 'notation', source, digest: d.digest, mediaType: layer.mediaType, envelope: await client.fetchBlob(repository, layer, MAX_SIGNATURE_BYTES) });
      }
    }
  }
  return evidence;
}

/** imggate's own verdicts (VSA and report), told by the predicate type the referrer declares. */
function isVerdict(annotations: Readonly<Record<string, string>> | undefined): boolean {
  const predicate = annotations?.['dev.sigstore.bundle.predicateType'];
  return predicate === VSA_PREDICATE_TYPE || predicate === REPORT_PREDICATE_TYPE;
}

async function simpleSignings(client: RegistryClient, repository: string, manifest: ImageManifest, digest: string, source: string): Promise<Evidence[]> {
  const out: Evidence[] = [];
  for (const layer of manifest.layers.filter((l: Descriptor) => l.mediaType === SIMPLE_SIGNING)) {
    const signature = layer.annotations?.[SIGNATURE_ANNOTATION] ?? '';
    out.push({ kind: 'cosign', source, digest, signature, payload: await client.fetchBlob(repository, layer, MAX_SIGNATURE_BYTES) });
  }
  return out;
}

async function getOptional(client: RegistryClient, repository: string, reference: string) {
  try {
    return await client.getManifest(repository, reference);
  } catch (err) {
    if (err instanceof ImggateError && err.code === 'NOT_FOUND') return undefined;
    throw err;
  }
}

function asManifest(bytes: Buffer, contentType: string | undefined, what: string): ImageManifest {
  const parsed = parseManifest(bytes, contentType, what);
  if (parsed.kind !== 'manifest') throw new ImggateError('MANIFEST_INVALID', `${what} is an index, not a signature manifest`);
  return parsed.manifest;
}
