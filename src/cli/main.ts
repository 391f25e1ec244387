import { writeFile } from 'node:fs/promises';
import { check } from '../check.js';
import { loadConfig } from '../config/load.js';
import { parseDuration, parseSize } from '../config/units.js';
import { ImggateError, isImggateError } from '../errors.js';
import type { CheckOptions, Limits } from '../options.js';
import { formatBytes, renderTable } from '../report/table.js';
import type { Report } from '../report/types.js';
import type { ScanProgress } from '../scan/engine.js';
import { updateFeeds } from '../feeds/index.js';
import { checkRuleExamples } from '../policy/examples.js';
import { loadRules } from '../policy/load-rules.js';
import { toSarif } from '../report/sarif.js';
import { toCycloneDx } from '../report/sbom.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { credentialsFrom, parseCommand, usage } from './common.js';
import { CHECK_HELP, FEEDS_HELP, HISTORY_HELP, KEYS_HELP, MAIN_HELP, RULES_HELP, SBOM_HELP, VERIFY_ATTESTATION_HELP } from './help.js';
import { loadGateKey, runKeys } from './keys.js';
import { runHistory, runVerifyAttestation } from './verdicts.js';
import { recordVerdict } from '../record.js';
import { openStore } from '../store/index.js';
import { VERSION } from './version.js';

export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream;
  readonly env: NodeJS.ProcessEnv;
}

const defaultIo = (): Io => ({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[], io: Io = defaultIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        if (rest[0] === 'check') io.stdout.write(CHECK_HELP);
        else if (rest[0] === 'rules') io.stdout.write(RULES_HELP);
        else if (rest[0] === 'sbom') io.stdout.write(SBOM_HELP);
        else if (rest[0] === 'feeds') io.stdout.write(FEEDS_HELP);
        else if (rest[0] === 'verify-attestation') io.stdout.write(VERIFY_ATTESTATION_HELP);
        else if (rest[0] === 'history') io.stdout.write(HISTORY_HELP);
        else if (rest[0] === 'keys') io.stdout.write(KEYS_HELP);
        else io.stdout.write(MAIN_HELP);
        return command === undefined ? EXIT.usage : 0;
      case '-V':
      case '--version':
      case 'version':
        io.stdout.write(`imggate ${VERSION}\n`);
        return 0;
      case 'check':
        return await runCheck(rest, io);
      case 'rules':
        return await runRules(rest, io);
      case 'feeds':
        return await runFeeds(rest, io);
      case 'sbom':
        return await runCheck(['--format', 'cyclonedx', ...rest], io, 'sbom');
      case 'verify-attestation':
        return await runVerifyAttestation(rest, io);
      case 'history':
        return await runHistory(rest, io);
      case 'keys':
        return await runKeys(rest, io);
      default:
        io.stderr.write(`imggate: unknown command "${command}"\n\n${MAIN_HELP}`);
        return EXIT.usage;
    }
  } catch (err) {
    const message = isImggateError(err) ? err.message : err instanceof Error ? err.message : String(err);
    io.stderr.write(`imggate: ${message}\n`);
    if (!isImggateError(err) || err.code === 'USAGE') io.stderr.write(`Run 'imggate help ${command ?? ''}' for usage.\n`);
    return EXIT.usage;
  }
}


async function runCheck(args: readonly string[], io: Io, command: 'check' | 'sbom' = 'check'): Promise<number> {
  const { values, positionals } = parseCommand(args, {
        format: { type: 'string', short: 'f', default: 'table' },
        output: { type: 'string', short: 'o' },
        quiet: { type: 'boolean', short: 'q', default: false },
        'no-progress': { type: 'boolean', default: false },
        platform: { type: 'string' },
        'all-platforms': { type: 'boolean', default: false },
        'insecure-registry': { type: 'string', multiple: true },
        creds: { type: 'string' },
        username: { type: 'string' },
        'password-stdin': { type: 'boolean', default: false },
        'max-layer-size': { type: 'string' },
        'max-uncompressed-size': { type: 'string' },
        'max-file-size': { type: 'string' },
        timeout: { type: 'string' },
        concurrency: { type: 'string' },
        config: { type: 'string', short: 'c' },
        rules: { type: 'string' },
        osv: { type: 'string', multiple: true },
        sbom: { type: 'string' },
        key: { type: 'string' },
        'no-attest': { type: 'boolean', default: false },
        'no-push': { type: 'boolean', default: false },
        'attestation-out': { type: 'string' },
        'no-store': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    io.stdout.write(command === 'sbom' ? SBOM_HELP : CHECK_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw usage(positionals.length ? `check takes one image reference, got ${positionals.length}` : 'check needs an image reference');
  const reference = positionals[0] as string;
  const format = values.format;
  if (format !== 'table' && format !== 'json' && format !== 'sarif' && format !== 'cyclonedx') {
    throw usage(`--format must be table, json, sarif or cyclonedx, not "${format}"`);
  }
  if (values.platform && values['all-platforms']) throw usage('--platform and --all-platforms exclude each other');

  const limits: Partial<Limits> = {};
  const size = (flag: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const n = parseSize(text);
    if (n === undefined) throw usage(`--${flag}: "${text}" is not a size (e.g. 512MiB)`);
    return n;
  };
  const maxLayer = size('max-layer-size', values['max-layer-size']);
  const maxUncompressed = size('max-uncompressed-size', values['max-uncompressed-size']);
  const maxFile = size('max-file-size', values['max-file-size']);
  if (maxLayer !== undefined) Object.assign(limits, { maxLayerBytes: maxLayer });
  if (maxUncompressed !== undefined) Object.assign(limits, { maxUncompressedLayerBytes: maxUncompressed });
  if (maxFile !== undefined) Object.assign(limits, { maxFileBytes: maxFile });
  if (values.timeout !== undefined) {
    const ms = parseDuration(values.timeout);
    if (ms === undefined || ms <= 0) throw usage(`--timeout: "${values.timeout}" is not a duration (e.g. 10m)`);
    Object.assign(limits, { timeoutMs: ms });
  }
  if (values.concurrency !== undefined) {
    const n = Number(values.concurrency);
    if (!Number.isInteger(n) || n < 1 || n > 16) throw usage('--concurrency takes a whole number from 1 to 16');
    Object.assign(limits, { concurrency: n });
  }

  const credentials = await credentialsFrom(values, io);

  const { config } = await loadConfig(values.config, io.env);
  const rules = await loadRules(values.rules ?? config.rules.dir ?? undefined);
  const showProgress = !values.quiet && !values['no-progress'] && io.stderr.isTTY === true;
  const options: CheckOptions = {
    config,
    env: io.env,
    limits,
    ...(values.platform ? { platform: values.platform } : {}),
    allPlatforms: values['all-platforms'],
    insecureRegistries: values['insecure-registry'] ?? [],
    ...(credentials ? { credentials } : {}),
    rules,
    ...(values.osv ? { osv: values.osv } : {}),
    ...(showProgress ? { progress: progressPrinter(io.stderr) } : {}),
  };
  const recording = command === 'check';
  if (values['attestation-out'] && values['no-attest']) throw usage('--attestation-out and --no-attest exclude each other');
  // Key and store are opened before the image is pulled: a wrong password should not cost a pull.
  const key = recording && !values['no-attest'] ? await loadGateKey(values.key, config, io.env) : undefined;
  const store = recording && !values['no-store'] ? openStore(config, io.env) : undefined;
  let report: Report;
  let problems: readonly string[] = [];
  try {
    report = await check(reference, options);
    if (recording) {
      ({ report, problems } = await recordVerdict(report, {
        config,
        checkOptions: options,
        key,
        push: !values['no-push'] && config.attest.push !== false,
        attestationOut: values['attestation-out'],
        store,
        rulesDir: rules.dir,
      }));
    }
  } finally {
    await store?.close();
  }

  const rendered =
    format === 'json'
      ? `${JSON.stringify(report, null, 2)}\n`
      : format === 'sarif'
        ? `${JSON.stringify(toSarif(report, rules.info, VERSION), null, 2)}\n`
        : format === 'cyclonedx'
          ? toCycloneDx(report)
          : `${renderTable(report)}\n`;
  if (values.sbom) await writeFile(values.sbom, toCycloneDx(report));
  if (command === 'sbom') {
    if (report.verdict === 'error') {
      io.stderr.write(`imggate: ${report.error ? `${report.error.code}: ${report.error.message}` : 'the image could not be read'}\n`);
      return EXIT.error;
    }
    if (values.output) await writeFile(values.output, rendered);
    else io.stdout.write(rendered);
    return 0;
  }
  if (values.output) {
    await writeFile(values.output, rendered);
    if (!values.quiet) io.stdout.write(`${renderTable(report)}\n`);
  } else if (!values.quiet) {
    io.stdout.write(rendered);
  }
  if (report.verdict === 'error' && (values.quiet || format === 'json' || values.output)) {
    io.stderr.write(`imggate: ${report.error ? `${report.error.code}: ${report.error.message}` : 'the check could not conclude'}\n`);
  }
  for (const problem of problems) io.stderr.write(`imggate: ${problem}\n`);
  if (recording && !key && !values['no-attest'] && !values.quiet) {
    io.stderr.write(`imggate: the verdict was not signed: no gate key (--key, attest.key or ${'keys/gate.key'}; 'imggate keys generate' makes one)\n`);
  }
  // A verdict that was asked to be recorded and was not is an error: the deploy step would not find it.
  return problems.length ? EXIT.error : exitCodeFor(report.verdict);
}

async function runFeeds(args: readonly string[], io: Io): Promise<number> {
  const parsed = parseCommand(args, { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h', default: false } });
  const [sub] = parsed.positionals;
  if (parsed.values.help || sub === undefined) {
    io.stdout.write(FEEDS_HELP);
    return sub === undefined && !parsed.values.help ? EXIT.usage : 0;
  }
  if (sub !== 'update' || parsed.positionals.length > 1) throw usage(`unknown feeds command "${parsed.positionals.join(' ')}"`);
  const { config } = await loadConfig(parsed.values.config, io.env);
  if (!config.feeds.debian?.length && !config.feeds.alpine?.length && !config.feeds.osv?.length) {
    io.stderr.write('imggate: no feeds (osv, debian, alpine) configured in imggate.yaml; nothing to update\n');
    return EXIT.usage;
  }
  try {
    for (const r of await updateFeeds(config, io.env)) {
      if (r.suite === 'osv') io.stdout.write(`osv: ${r.packages} advisories imported, digest ${r.digest} → ${r.file}\n`);
      else io.stdout.write(`${r.suite}: ${r.packages} packages, ${r.suite.startsWith('alpine ') ? 'APKINDEX' : 'InRelease'} ${r.digest}${r.verified ? ', signature verified' : ', NOT verified (no keyring configured)'} → ${r.file}\n`);
    }
  } catch (err) {
    io.stderr.write(`imggate: feeds update failed: ${isImggateError(err) ? `${err.code}: ` : ''}${(err as Error).message}\n`);
    return EXIT.error;
  }
  return 0;
}

async function runRules(args: readonly string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout.write(RULES_HELP);
    return sub === undefined ? EXIT.usage : 0;
  }
  if (sub !== 'check') throw usage(`unknown rules command "${sub}"`);
  if (rest.length > 1) throw usage('rules check takes at most one directory');
  const dir = rest[0];
  let rules;
  try {
    rules = await loadRules(dir);
  } catch (err) {
    io.stderr.write(`imggate: ${(err as Error).message}\n`);
    return EXIT.fail;
  }
  const { failures, cases } = checkRuleExamples(rules);
  for (const f of failures) {
    io.stderr.write(`${f.file}: rule ${f.rule}: ${f.kind} example ${f.index + 1} ${f.kind === 'positive' ? 'is not found' : 'is found'}\n`);
  }
  const { checkRulePatterns } = await import('../policy/redos-rules.js');
  const slow = await checkRulePatterns(rules);
  for (const f of slow) io.stderr.write(`${f.file}: rule ${f.rule}: ${f.field} may backtrack super-linearly: ${f.summary}\n`);
  const types = rules.secretRules.length + rules.fileRules.length;
  io.stdout.write(`${rules.dir}: ${rules.info.size} rules (${types} secret types), ${cases} examples run, ${failures.length} failing; ${slow.length} pattern(s) not shown linear by the ReDoS checker; policy digest ${rules.digest}\n`);
  const t = rules.trust;
  io.stdout.write(`trust: ${t.signers.size} signer(s), ${t.scopes.length} scope(s) (${t.scopes.map((s) => `${s.origin}: ${s.level}`).join('; ') || 'none'}), default ${t.defaultLevel}\n`);
  return failures.length || slow.length ? EXIT.fail : 0;
}

function progressPrinter(stderr: NodeJS.WritableStream): ScanProgress {
  return {
    layerStarted: (layer) => stderr.write(`  pulling layer ${layer.index + 1} ${layer.descriptor.digest.slice(7, 19)} (${formatBytes(layer.descriptor.size)})\n`),
    layerDone: (layer, stats) =>
      stderr.write(`  done    layer ${layer.index + 1} ${layer.descriptor.digest.slice(7, 19)}: ${stats.entries} entries, ${formatBytes(stats.uncompressedSize)}\n`),
  };
}


