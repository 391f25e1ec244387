import type { AttestationRecord, Report, Verdict } from '../report/types.js';

/** A verdict as the store keeps it: what was checked, the answer, the report and the signed bundles. */
export interface NewVerdict {
  readonly digest: string;
  /** The reference as the report names it (normalised). */
  readonly reference: string;
  /** The reference without tag or digest. */
  readonly repository: string;
  readonly platform?: string | undefined;
  readonly verdict: Verdict;
  readonly policyDigest?: string | undefined;
  readonly checkedAt: string;
  readonly report: Report;
  /** The signed VSA (Sigstore bundle JSON), when the gate had a key. */
  readonly bundle?: Buffer | undefined;
  /** The signed report statement. */
  readonly reportBundle?: Buffer | undefined;
  readonly attestations?: readonly AttestationRecord[] | undefined;
}

export interface StoredVerdict extends NewVerdict {
  readonly id: number;
  /** The service's queue job that produced it, when one did. */
  readonly jobId?: number;
}

export interface VerdictQuery {
  readonly digest?: string;
  readonly reference?: string;
  readonly repository?: string;
  readonly jobId?: number;
  readonly limit?: number;
}

/** Where verdicts are kept. The embedded default is SQLite; the service may use another database. */
export interface VerdictStore {
  add(verdict: NewVerdict): number | Promise<number>;
  list(query: VerdictQuery): StoredVerdict[] | Promise<StoredVerdict[]>;
  close(): void | Promise<void>;
}
