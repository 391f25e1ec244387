import { Worker } from 'node:worker_threads';
import { errorReport } from '../check.js';
import type { CheckOptions } from '../options.js';
import { ImggateError } from '../errors.js';
import type { Report } from '../report/types.js';
import type { ScanProgress } from '../scan/engine.js';
import type { WorkerMessage, WorkerTask } from './check-worker.js';

/** How long past its own deadline a check may take to wind down before its thread is ended. */
const GRACE_MS = 10_000;

/**
 * Runs `check()` in a worker thread that is terminated if it outlives its deadline. The check stops
 * itself at the deadline wherever it looks at its signal; this is the backstop for work that never
 * looks (a regular expression on one long line, a parser in a tight loop): whatever the image does,
 * the caller gets an `error` report once the deadline and a short grace period have passed, never a
 * late verdict.
 */
export function boundedCheck(reference: string, options: CheckOptions, rulesDir: string, timeoutMs: number, progress?: ScanProgress): Promise<Report> {
  const started = Date.now();
  const { progress: _drop, rules: _rules, signal: _signal, analyzers: _analyzers, ...plain } = options;
  const task: WorkerTask = { reference, options: plain, rulesDir, progress: progress !== undefined };
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./check-worker.js', import.meta.url), { workerData: task });
    let settled = false;
    const settle = (report: Report): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(report);
    };
    const fail = (err: unknown): void => settle(errorReport({ reference, digest: '', mediaType: '' }, err, started));
    const timer = setTimeout(
      () => fail(new ImggateError('CHECK_TIMEOUT', `the check took longer than ${timeoutMs} ms and did not stop; its thread was ended`)),
      timeoutMs + GRACE_MS,
    );
    worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'report') settle(message.report);
      else if (message.kind === 'layer-started') progress?.layerStarted?.(message.layer as never);
      else if (message.kind === 'layer-done') progress?.layerDone?.(message.layer as never, message.stats);
    });
    worker.on('error', (err) => fail(err));
    worker.on('exit', (code) => fail(new Error(`the check's worker thread exited (code ${code}) without a report`)));
  });
}
