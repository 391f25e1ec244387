import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { SigningKey } from './attest/keys.js';
import { DEFAULT_VERIFIER_ID, REPORT_PREDICATE_TYPE, reportStatement, VSA_PREDICATE_TYPE, verificationSummary } from './attest/statement.js';
import { BUNDLE_MEDIA_TYPE } from './attest/media-types.js';
import type { ConfigFile } from './config/schema.js';
import { describeError, ImggateError } from './errors.js';
import { digestOf } from './oci/digest.js';
import { resolveOptions, withConfig, type CheckOptions } from './options.js';
import { parseReference, repositoryNameOf } from './registry/reference.js';
import { attachArtifacts } from './registry/referrers.js';
import type { AttestationRecord, Report } from './report/types.js';
import type { VerdictStore } from './store/types.js';
import { VERSION } from './version.js';

export interface RecordOptions {
  readonly config: ConfigFile;
  /** The options the check ran with: registry credentials and settings for the push. */
  readonly checkOptions?: CheckOptions;
  /** The gate's key; without it nothing is signed, the verdict is only stored. */
  readonly key?: SigningKey | undefined;
  /** Push the signed statements next to registry images (default true). */
  readonly push?: boolean;
  /** Write the VSA bundle here too (CI before push). */
  readonly attestationOut?: string | undefined;
  readonly store?: VerdictStore | undefined;
  readonly rulesDir?: string | undefined;
  readonly now?: Date;
}

export interface Recorded {
  /** The report with `attestations` filled in for each checked manifest. */
  readonly report: Report;
  /** What could not be done (a push refused, a store that failed); each one fails the run. */
  readonly problems: readonly string[];
}

/**
 * Records a verdict: for every manifest the report checked, signs a VSA and a report statement,
 * pushes both next to the image, writes the VSA bundle to a file when asked, and keeps everything in
 * the store. Nothing here changes the verdict; problems are returned for the caller to fail on.
 */
export async function recordVerdict(report: Report, options: RecordOptions): Promise<Recorded> {
  const problems: string[] = [];
  const leaves = report.platforms ?? [report];
  if (options.attestationOut && leaves.length !== 1) {
    problems.push(`--attestation-out writes one bundle, and this check covered ${leaves.length} platforms`);
  }
  const recorded: Report[] = [];
  for (const leaf of leaves) recorded.push(await recordOne(leaf, options, problems));
  const out = report.platforms ? { ...report, platforms: recorded } : (recorded[0] as Report);
  return { report: out, problems };
}

async function recordOne(report: Report, options: RecordOptions, problems: string[]): Promise<Report> {
  if (!report.image.digest) {
    // Nothing was pinned (the reference did not resolve): there is no subject to attest or file under.
    return report;
  }
  let signed: SignedVerdict | undefined;
  if (options.key) {
    try {
      signed = await signVerdict(report, options.key, options);
    } catch (err) {
      const log = options.config.attest.rekorUrl;
      problems.push(`signing the verdict for ${report.image.digest} failed${log ? ` (transparency log ${log})` : ''}: ${describeError(err)}`);
    }
  } else if (options.attestationOut) {
    problems.push('--attestation-out needs the gate key (attest.key, or keys/gate.key; imggate keys generate makes one)');
  }
  const attestations = signed ? await publish(report, signed, options, problems) : [];
  const recorded: Report = attestations.length ? { ...report, attestations } : report;
  if (options.store) {
    try {
      await options.store.add({
        digest: report.image.digest,
        reference: report.image.reference,
        repository: report.image.source === 'registry' ? repositoryNameOf(report.image.reference) : report.image.reference,
        platform: report.image.platform,
        verdict: report.verdict,
        policyDigest: report.policy?.digest,
        checkedAt: report.checkedAt,
        report: recorded,
        bundle: signed?.[0].bundle,
        reportBundle: signed?.[1].bundle,
        attestations: attestations.length ? attestations : undefined,
      });
    } catch (err) {
      problems.push(describeError(err));
    }
  }
  return recorded;
}

/** The two signed statements of a verdict, VSA first. */
type SignedVerdict = readonly [{ predicateType: string; bundle: Buffer }, { predicateType: string; bundle: Buffer }];

async function signVerdict(report: Report, key: SigningKey, options: RecordOptions): Promise<SignedVerdict> {
  // Sigstore's signing libraries load only when there is a key to sign with.
  const [{ RekorWitness }, { KeySigner, signStatement }] = await Promise.all([import('@sigstore/sign'), import('./attest/sign.js')]);
  const signer = new KeySigner(key);
  const ctx = {
    verifierId: options.config.attest.verifierId ?? DEFAULT_VERIFIER_ID,
    verifierVersion: VERSION,
    policyUri: options.config.attest.policyUri ?? (options.rulesDir ? pathToFileURL(options.rulesDir).href : 'imggate:rules'),
  };
  const rekorUrl = options.config.attest.rekorUrl;
  const witnesses = rekorUrl ? [new RekorWitness({ rekorBaseURL: rekorUrl, entryType: 'dsse', timeout: 30_000, retry: 1 })] : [];
  return [
    { predicateType: VSA_PREDICATE_TYPE, bundle: await signStatement(verificationSummary(report, ctx), signer, witnesses) },
    { predicateType: REPORT_PREDICATE_TYPE, bundle: await signStatement(reportStatement(report), signer, witnesses) },
  ];
}

/** Pushes both bundles next to a registry image and writes the VSA to --attestation-out; says where each went. */
async function publish(report: Report, signed: SignedVerdict, options: RecordOptions, problems: string[]): Promise<AttestationRecord[]> {
  const records: AttestationRecord[] = signed.map(({ predicateType, bundle }) => ({ predicateType, bundleDigest: digestOf(bundle) }));
  if (options.push !== false && report.image.source === 'registry') {
    try {
      const attached = await pushBundles(report, signed, options);
      for (const [i, a] of attached.entries()) records[i] = { ...(records[i] as AttestationRecord), manifest: a.manifest.digest, via: a.via };
    } catch (err) {
      problems.push(`pushing the attestations for ${report.image.digest} failed: ${describeError(err)}`);
    }
  }
  if (options.attestationOut) {
    try {
      await writeFile(options.attestationOut, signed[0].bundle);
      records[0] = { ...(records[0] as AttestationRecord), file: options.attestationOut };
    } catch (err) {
      problems.push(`writing ${options.attestationOut} failed: ${describeError(err)}`);
    }
  }
  return records;
}

async function pushBundles(report: Report, signed: SignedVerdict, options: RecordOptions) {
  const ref = parseReference(report.image.reference);
  const resolved = resolveOptions(report.image.reference, await withConfig(options.checkOptions ?? { config: options.config }));
  const client = resolved.client(ref.registry);
  try {
    if (report.image.size === undefined) throw new ImggateError('MANIFEST_INVALID', 'the report does not say the manifest size');
    const created = (options.now ?? new Date()).toISOString();
    return await attachArtifacts(
      client,
      ref.repository,
      { mediaType: report.image.mediaType, digest: report.image.digest, size: report.image.size },
      signed.map(({ predicateType, bundle }) => ({
        artifactType: BUNDLE_MEDIA_TYPE,
        blob: bundle,
        blobMediaType: BUNDLE_MEDIA_TYPE,
        annotations: {
          'dev.sigstore.bundle.content': 'dsse-envelope',
          'dev.sigstore.bundle.predicateType': predicateType,
          'org.opencontainers.image.created': created,
        },
      })),
    );
  } finally {
    client.close();
  }
}

