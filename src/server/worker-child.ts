/**
 * A worker process of `imggate serve`: runs checks one at a time, as `imggate check` does (check, then
 * sign, push and record), with the verdict rows sent back to the service instead of written, so that
 * the service commits them under the job's lease (a fenced-off worker writes nothing). The process
 * lives for many jobs: its modules, configuration, rules and key are loaded once, so a job costs the
 * check and nothing else. The service retires it after a number of jobs or when it has grown. Exits
 * when the service goes away.
 */
import { check } from '../check.js';
import type { ConfigFile } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import { loadGateKey } from '../cli/keys.js';
import { loadRules, type RuleSet } from '../policy/load-rules.js';
import { recordVerdict } from '../record.js';
import type { NewVerdict, VerdictStore } from '../store/types.js';
import { toWire, type CheckTask, type WorkerMessage } from './wire.js';

interface Setup {
  readonly config: ConfigFile;
  readonly rules: RuleSet;
  readonly key: Awaited<ReturnType<typeof loadGateKey>>;
}

/** The setup of the (configuration file, rules folder) the service names; one per process in practice. */
const setups = new Map<string, Promise<Setup>>();

function setupFor(task: CheckTask, fresh = false): Promise<Setup> {
  const id = `${task.configFile ?? ''}\0${task.rulesDir}`;
  let setup = fresh ? undefined : setups.get(id);
  if (!setup) {
    setup = (async () => {
      const env = process.env;
      const { config } = await loadConfig(task.configFile, env);
      const rules = await loadRules(task.rulesDir);
      const key = await loadGateKey(undefined, config, env);
      return { config, rules, key };
    })();
    // A setup that failed (a file being rewritten) is tried again by the next job, not remembered.
    const mine = setup;
    setup.catch(() => {
      if (setups.get(id) === mine) setups.delete(id);
    });
    setups.set(id, setup);
  }
  return setup;
}

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('not started by imggate serve'));
    process.send(message, undefined, {}, (err) => (err ? reject(err) : resolve()));
  });
}

async function run(task: CheckTask): Promise<WorkerMessage> {
  let { config, rules, key } = await setupFor(task);
  if (rules.digest !== task.rulesDigest) ({ config, rules, key } = await setupFor(task, true));
  if (rules.digest !== task.rulesDigest) {
    // The service keys verdicts by the rules it loaded at start: a check under edited rules would be filed wrongly.
    throw new Error(`the rules in ${rules.dir} changed since imggate serve started (now ${rules.digest}, the service's ${task.rulesDigest}); restart it to check under the new rules`);
  }
  const captured: NewVerdict[] = [];
  const store: VerdictStore = {
    add: (v) => captured.push(v),
    list: () => [],
    close: () => undefined,
  };
  const options = { config, env: process.env, rules };
  const report = await check(task.reference, options);
  // A rescan that changed nothing is stored (it is the verdict under the new feeds) but not signed or pushed again.
  const unchanged = task.previousVerdict !== undefined && report.verdict === task.previousVerdict;
  const recorded = await recordVerdict(report, { config, checkOptions: options, key: unchanged ? undefined : key, push: !unchanged && config.attest.push !== false, store, rulesDir: rules.dir });
  return { type: 'result', jobId: task.jobId, report: recorded.report, verdicts: captured.map(toWire), problems: recorded.problems, rss: process.memoryUsage.rss() };
}

// The service is gone (killed, even with -9): the running job's lease will expire and another worker redoes it.
process.on('disconnect', () => process.exit(0));
// Jobs arrive one at a time: the service sends the next only after this one's answer.
process.on('message', (task: CheckTask) => {
  void send({ type: 'started', jobId: task.jobId })
    .then(() => run(task))
    .catch((err: unknown): WorkerMessage => ({ type: 'crash', jobId: task.jobId, message: err instanceof Error ? err.message : String(err) }))
    .then(send)
    .catch(() => process.exit(70));
});
void send({ type: 'ready', jobId: 0 }).catch(() => process.exit(70));
