import type { Inventory } from '../packages/types.js';

/** The JSON report (`imggate.report/v1`); field names are a contract with users' scripts: shared/report-contract.md. */

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

export type Verdict = 'pass' | 'fail' | 'error';

export interface PackageRef {
  readonly ecosystem: string;
  readonly name: string;
  readonly version: string;
  readonly fixedVersion?: string;
  /** Outdated packages: the suite (`bookworm-security`, `v3.19`) the newest version is in. */
  readonly fixedIn?: string;
}

export interface Finding {
  /** Stable check id: secret, setuid, setgid, root-user, digest, layer, analyzer-error, … */
  readonly check: string;
  /** The rule that fired, as named under rules/. */
  readonly rule: string;
  readonly severity: Severity;
  /** Whether this finding alone fails the verdict under the policy in force. */
  blocking: boolean;
  readonly message: string;
  readonly path?: string;
  readonly layer?: string;
  readonly createdBy?: string;
  readonly inFinalFilesystem?: boolean;
  /** For secrets: a hash identifying the secret, never the value. */
  readonly fingerprint?: string;
  readonly package?: PackageRef;
  /** Set when a policy exception waived this finding. */
  readonly exception?: { readonly reason: string; readonly expires: string };
  /** For file findings: the line the match starts on. */
  readonly line?: number;
}

export interface LayerSummary {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly diffId?: string;
  readonly createdBy?: string;
  /** Bytes of tar after decompression. */
  readonly uncompressedSize: number;
  readonly entries: number;
}

export interface ImageSection {
  readonly reference: string;
  readonly digest: string;
  readonly platform?: string;
  readonly mediaType: string;
  readonly source?: 'registry' | 'oci' | 'oci-archive' | 'docker-archive';
  readonly configDigest?: string;
  /** Bytes of the manifest `digest` names. */
  readonly size?: number;
  readonly layers?: readonly LayerSummary[];
}

export interface SignatureResult {
  readonly format: string;
  readonly verified: boolean;
  readonly signer?: string;
  readonly reason?: string;
  /** The signature's own digest (its manifest or bundle), listed as an input attestation in the VSA. */
  readonly digest?: string;
  /** Where it was found: the `.sig` tag or the referrer manifest. */
  readonly uri?: string;
  /** The digest it signs: the manifest, or the index the manifest was selected from. */
  readonly subject?: string;
  /** Who signed, as verified: key file, certificate identity and issuer, or certificate subject. */
  readonly identity?: string | undefined;
}

/** An attestation recorded for this report: signed, and pushed next to the image or written to a file. */
export interface AttestationRecord {
  readonly predicateType: string;
  /** The digest of the Sigstore bundle's bytes. */
  readonly bundleDigest: string;
  /** The referrer manifest in the registry, when pushed. */
  readonly manifest?: string;
  /** How the referrer is found: the registry's referrers API or the referrers tag. */
  readonly via?: 'api' | 'tag';
  readonly file?: string;
}

export interface ReportError {
  readonly code: string;
  readonly message: string;
}

export interface Report {
  readonly schema: 'imggate.report/v1';
  readonly image: ImageSection;
  readonly verdict: Verdict;
  readonly findings: Finding[];
  readonly signatures: SignatureResult[];
  readonly platforms?: Report[];
  /** Present when verdict is "error": why the check could not conclude. */
  readonly error?: ReportError;
  readonly analyzers?: ReadonlyArray<{ readonly id: string; readonly version: number }>;
  /** The rules in force: the digest of every file under the rules directory. */
  readonly policy?: { readonly digest: string };
  /** What the image holds: its OS release and installed packages. */
  readonly inventory?: Inventory;
  /** The advisory feeds the package findings were matched against. */
  readonly feeds?: ReadonlyArray<{
    readonly kind: string;
    readonly sources: readonly string[];
    readonly records: number;
    readonly digest?: string;
    readonly fetchedAt?: string;
    readonly verified?: boolean;
    /** Distribution suites: the archive's own `Date:` and `Valid-Until:` for the state used. */
    readonly date?: string;
    readonly validUntil?: string;
  }>;
  /** The trust scope that applied (trust.yaml or Notation's trustpolicy.json) and its level. */
  readonly trust?: { readonly level: 'enforce' | 'audit'; readonly scope: string };
  /** The signed statements recorded for this verdict (`check` with a gate key). */
  readonly attestations?: readonly AttestationRecord[];
  readonly checkedAt: string;
  readonly durationMs: number;
}
