/**
 * One check in its own process: what `imggate check` does (check, then sign, push and record), with
 * the verdict rows sent back to the service instead of written, so that the service commits them
 * under the job's lease (a fenced-off worker writes nothing). Exits when the service goes away.
 */
import { check } from '../check.js';
import { loadConfig } from '../config/load.js';
import { loadGateKey } from '../cli/keys.js';
import { loadRules } from '../policy/load-rules.js';
import { recordVerdict } from '../record.js';
import type { NewVerdict, VerdictStore } from '../store/types.js';
import { toWire, type CheckTask, type WorkerMessage } from './wire.js';

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('not started by imggate serve'));
    process.send(message, undefined, {}, (err) => (err ? reject(err) : resolve()));
  });
}

async function run(task: CheckTask): Promise<void> {
  await send({ type: 'started', jobId: task.jobId });
  const env = process.env;
  const { config } = await loadConfig(task.configFile, env);
  const rules = await loadRules(task.rulesDir);
  const key = await loadGateKey(undefined, config, env);
  const captured: NewVerdict[] = [];
  const store: VerdictStore = {
    add: (v) => captured.push(v),
    list: () => [],
    close: () => undefined,
  };
  const options = { config, env, rules };
  const report = await check(task.reference, options);
  const recorded = await recordVerdict(report, { config, checkOptions: options, key, push: config.attest.push !== false, store, rulesDir: rules.dir });
  await send({ type: 'result', jobId: task.jobId, report: recorded.report, verdicts: captured.map(toWire), problems: recorded.problems });
}

let finished = false;
// The service is gone (killed, even with -9): the job's lease will expire and another worker redoes it.
process.on('disconnect', () => process.exit(finished ? 0 : 70));
process.once('message', (task: CheckTask) => {
  run(task)
    .catch((err: unknown) => send({ type: 'crash', jobId: task.jobId, message: err instanceof Error ? err.message : String(err) }))
    .then(() => {
      finished = true;
      process.disconnect?.();
    })
    .catch(() => process.exit(70));
});
