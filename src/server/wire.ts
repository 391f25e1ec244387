import type { Report, Verdict } from '../report/types.js';
import type { NewVerdict } from '../store/types.js';

/** What the service asks a worker process to check. */
export interface CheckTask {
  readonly type: 'check';
  readonly jobId: number;
  /** `registry/repository@digest`: always pinned, never re-resolved. */
  readonly reference: string;
  readonly configFile?: string | undefined;
  readonly rulesDir: string;
  /** The digest of the rules the service loaded at start: the worker checks under exactly these. */
  readonly rulesDigest: string;
  /**
   * A rescan's verdict before it: a new verdict equal to it is stored and not signed or pushed again
   * (the attestation in the registry still says the same); one that differs is recorded as `check` does.
   */
  readonly previousVerdict?: Verdict | undefined;
}

/** A verdict row crossing the process boundary: the bundles as text (they are JSON). */
export type WireVerdict = Omit<NewVerdict, 'bundle' | 'reportBundle'> & { readonly bundle?: string; readonly reportBundle?: string };

export type WorkerMessage =
  | { readonly type: 'ready' | 'started'; readonly jobId: number }
  | { readonly type: 'result'; readonly jobId: number; readonly report: Report; readonly verdicts: readonly WireVerdict[]; readonly problems: readonly string[]; readonly rss: number }
  | { readonly type: 'crash'; readonly jobId: number; readonly message: string };

export function toWire(v: NewVerdict): WireVerdict {
  const { bundle, reportBundle, ...rest } = v;
  return { ...rest, ...(bundle ? { bundle: bundle.toString('utf8') } : {}), ...(reportBundle ? { reportBundle: reportBundle.toString('utf8') } : {}) };
}

export function fromWire(v: WireVerdict): NewVerdict {
  const { bundle, reportBundle, ...rest } = v;
  return { ...rest, ...(bundle ? { bundle: Buffer.from(bundle, 'utf8') } : {}), ...(reportBundle ? { reportBundle: Buffer.from(reportBundle, 'utf8') } : {}) };
}
