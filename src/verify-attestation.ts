import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { evaluateAttestations, type Candidate, type Decision } from './attest/evaluate.js';
import { BUNDLE_MEDIA_TYPE } from './attest/media-types.js';
import { VSA_PREDICATE_TYPE } from './attest/statement.js';
import { MAX_BUNDLE_BYTES } from './attest/verify.js';
import { VERSION } from './version.js';
import { ImggateError } from './errors.js';
import { parseManifest } from './oci/manifest.js';
import { hostPlatform, parsePlatform, selectPlatform } from './oci/platform.js';
import { resolveOptions, withConfig, type CheckOptions } from './options.js';
import { parseReference } from './registry/reference.js';
import { listReferrers, readReferrer } from './registry/referrers.js';

export interface VerifyAttestationOptions {
  readonly publicKey: KeyObject;
  readonly maxAgeMs?: number | undefined;
  readonly policyDigest?: string | undefined;
  /** Bundle files to consider instead of (or, for a registry image, besides) the image's referrers. */
  readonly bundleFiles?: readonly string[];
  /** For an index: which platform's manifest must carry the verdict (default the host's). */
  readonly platform?: string | undefined;
  readonly checkOptions?: CheckOptions;
  readonly now?: Date;
}

export interface AttestationCheck {
  /** The manifest digest the verdict had to be about. */
  readonly digest: string;
  readonly decision: Decision;
  /** How referrers were found in the registry, when it was asked. */
  readonly via?: 'api' | 'tag';
}

/** At most this many referrers are fetched; a flooded referrers index must not stall a deploy. */
const MAX_REFERRERS = 64;

/**
 * What a deploy step runs: resolves REF to the manifest digest (the platform's, for an index), finds
 * the signed verdicts attached to exactly that digest and decides with `evaluateAttestations`.
 * `REF` may be `sha256:…` alone with `bundleFiles`, for a verdict written by `--attestation-out`.
 */
export async function verifyAttestation(reference: string, options: VerifyAttestationOptions): Promise<AttestationCheck> {
  const now = options.now ?? new Date();
  const candidates: Candidate[] = [];
  for (const file of options.bundleFiles ?? []) {
    const bytes = await readFile(file);
    if (bytes.length > MAX_BUNDLE_BYTES) throw new ImggateError('BLOB_TOO_LARGE', `${file} is over ${MAX_BUNDLE_BYTES} bytes`);
    candidates.push({ source: file, bytes });
  }
  const requirements = { publicKey: options.publicKey, maxAgeMs: options.maxAgeMs, policyDigest: options.policyDigest, now };
  if (/^sha256:[0-9a-f]{64}$/.test(reference)) {
    if (!options.bundleFiles?.length) throw new ImggateError('USAGE', 'a bare digest needs --bundle FILE (there is no registry to look in)');
    return { digest: reference, decision: evaluateAttestations(candidates, { ...requirements, digest: reference }) };
  }
  const ref = parseReference(reference.replace(/^docker:\/\//, ''));
  const resolved = resolveOptions(reference, await withConfig(options.checkOptions ?? {}));
  const client = resolved.client(ref.registry);
  try {
    const root = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest');
    const parsed = parseManifest(root.bytes, root.contentType, `manifest ${root.digest}`);
    const digest =
      parsed.kind === 'manifest' ? root.digest : selectPlatform(parsed.index.manifests, options.platform ? parsePlatform(options.platform) : hostPlatform()).digest;
    const referrers = await listReferrers(client, ref.repository, digest, BUNDLE_MEDIA_TYPE);
    const vsas = referrers.descriptors.filter((d) => {
      const declared = d.annotations?.['dev.sigstore.bundle.predicateType'];
      return declared === undefined || declared === VSA_PREDICATE_TYPE;
    });
    for (const descriptor of vsas.slice(-MAX_REFERRERS)) {
      const referrer = await readReferrer(client, ref.repository, descriptor, digest);
      if (!referrer) continue;
      if (!referrer.about) {
        candidates.push({ source: referrer.source, bytes: Buffer.alloc(0), rejected: `its manifest's subject is ${referrer.manifest.subject?.digest ?? 'missing'}, not ${digest}` });
        continue;
      }
      const layer = referrer.manifest.layers.find((l) => l.mediaType === BUNDLE_MEDIA_TYPE);
      if (layer) candidates.push({ source: referrer.source, bytes: await client.fetchBlob(ref.repository, layer, MAX_BUNDLE_BYTES) });
    }
    return { digest, decision: evaluateAttestations(candidates, { ...requirements, digest }), via: referrers.via };
  } finally {
    client.close();
  }
}
