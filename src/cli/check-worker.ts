import { parentPort } from 'node:worker_threads';
import { check } from '../check.js';
import { isImggateError } from '../errors.js';
import type { CheckOptions } from '../options.js';
import { loadRules, type RuleInfo } from '../policy/load-rules.js';
import type { Report } from '../report/types.js';
import type { LayerStats } from '../scan/engine.js';

/** What the CLI hands the check's thread: everything a check needs that can cross a thread boundary. */
export interface WorkerTask {
  readonly reference: string;
  readonly options: Omit<CheckOptions, 'progress' | 'rules' | 'signal' | 'analyzers'>;
  /** The rules directory; the thread loads and validates it (once per run: the CLI's thread does not). */
  readonly rulesDir: string;
  readonly progress: boolean;
}

/** The layer as progress lines show it. */
export interface LayerSummary {
  readonly index: number;
  readonly descriptor: { readonly digest: string; readonly size: number };
}

export type WorkerMessage =
  | { kind: 'report'; report: Report; ruleInfo: ReadonlyMap<string, RuleInfo> }
  /** The rules could not be loaded: no check ran. */
  | { kind: 'rules-invalid'; code: string; message: string }
  | { kind: 'layer-started'; layer: LayerSummary }
  | { kind: 'layer-done'; layer: LayerSummary; stats: LayerStats };

const summary = (layer: { index: number; descriptor: { digest: string; size: number } }): LayerSummary => ({
  index: layer.index,
  descriptor: { digest: layer.descriptor.digest, size: layer.descriptor.size },
});

async function run(task: WorkerTask): Promise<void> {
  const post = (message: WorkerMessage): void => parentPort?.postMessage(message);
  let rules;
  try {
    rules = await loadRules(task.rulesDir);
  } catch (err) {
    post({ kind: 'rules-invalid', code: isImggateError(err) ? err.code : 'CONFIG_INVALID', message: (err as Error).message });
    return;
  }
  const report = await check(task.reference, {
    ...task.options,
    rules,
    ...(task.progress
      ? {
          progress: {
            layerStarted: (layer) => post({ kind: 'layer-started', layer: summary(layer) }),
            layerDone: (layer, stats) => post({ kind: 'layer-done', layer: summary(layer), stats }),
          },
        }
      : {}),
  });
  post({ kind: 'report', report, ruleInfo: rules.info });
}

// The thread may start before its task is known (check-thread.ts): the task is its first message.
parentPort?.once('message', (task: WorkerTask) => void run(task));
