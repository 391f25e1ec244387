import type { CheckOptions } from '../options.js';
import { ImggateError } from '../errors.js';
import type { RuleInfo } from '../policy/load-rules.js';
import { errorReport } from '../report/error-report.js';
import type { Report } from '../report/types.js';
import type { ScanProgress } from '../scan/engine.js';
import { heapMbOf, spawnCheckThread, type CheckThread } from './check-thread.js';
import type { WorkerMessage, WorkerTask } from './check-worker.js';

/** How long past its own deadline a check may take to wind down before its thread is ended. */
const GRACE_MS = 10_000;

export interface BoundedCheckResult {
  readonly report: Report;
  /** The rules' descriptions (for SARIF); empty when the check's thread ended without a report. */
  readonly ruleInfo: ReadonlyMap<string, RuleInfo>;
}

/**
 * Runs `check()` in a worker thread that is terminated if it outlives its deadline or its heap limit.
 * The check stops itself at the deadline wherever it looks at its signal; this is the backstop for
 * work that never looks (a regular expression on one long line, a parser in a tight loop): whatever
 * the image does, the caller gets an `error` report once the deadline and a short grace period have
 * passed, never a late verdict. Rules that do not load are thrown (as `loadRules` would). A thread
 * started ahead (`thread`) is used when its heap bound is the one asked for.
 */
export function boundedCheck(
  reference: string,
  options: CheckOptions,
  rulesDir: string,
  bounds: { readonly timeoutMs: number; readonly maxHeapBytes: number; readonly graceMs?: number },
  progress?: ScanProgress,
  thread?: CheckThread,
): Promise<BoundedCheckResult> {
  const started = Date.now();
  const { progress: _drop, rules: _rules, signal: _signal, analyzers: _analyzers, ...plain } = options;
  const task: WorkerTask = { reference, options: plain, rulesDir, progress: progress !== undefined };
  return new Promise((resolve, reject) => {
    const worker = thread?.take(bounds.maxHeapBytes) ?? spawnCheckThread(heapMbOf(bounds.maxHeapBytes));
    worker.postMessage(task);
    let settled = false;
    const settle = (result: BoundedCheckResult | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const fail = (err: unknown): void => settle({ report: errorReport({ reference, digest: '', mediaType: '' }, err, started), ruleInfo: new Map() });
    const timer = setTimeout(
      () => fail(new ImggateError('CHECK_TIMEOUT', `the check took longer than ${bounds.timeoutMs} ms and did not stop; its thread was ended`)),
      bounds.timeoutMs + (bounds.graceMs ?? GRACE_MS),
    );
    worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'report') settle({ report: message.report, ruleInfo: message.ruleInfo });
      else if (message.kind === 'rules-invalid') settle(new ImggateError(message.code, message.message));
      else if (message.kind === 'layer-started') progress?.layerStarted?.(message.layer as never);
      else if (message.kind === 'layer-done') progress?.layerDone?.(message.layer as never, message.stats);
    });
    worker.on('error', (err: Error & { code?: string }) =>
      fail(
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new ImggateError('LIMIT_EXCEEDED', `the check needed more than ${Math.round(bounds.maxHeapBytes / 1024 ** 2)} MiB of heap (limits.maxHeap) and was ended`)
          : err,
      ),
    );
    worker.on('exit', (code) => fail(new Error(`the check's worker thread exited (code ${code}) without a report`)));
  });
}
