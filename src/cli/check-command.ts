import { writeFile } from 'node:fs/promises';
import type { ConfigFile } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import { parseDuration, parseSize } from '../config/units.js';
import { DEFAULT_LIMITS, resolveOptions, type CheckOptions, type Limits } from '../options.js';
import { DEFAULT_RULES_DIR } from '../policy/rules-dir.js';
import type { RuleInfo } from '../policy/load-rules.js';
import { formatBytes, renderTable } from '../report/table.js';
import { jsonForTerminal } from '../report/terminal.js';
import type { Report } from '../report/types.js';
import type { ScanProgress } from '../scan/engine.js';
import { boundedCheck } from './bounded-check.js';
import type { CheckThread } from './check-thread.js';
import { credentialsFrom, parseCommand, say, usage } from './common.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { CHECK_HELP, SBOM_HELP } from './help.js';
import type { Io } from './main.js';
import { VERSION } from './version.js';

/**
 * `imggate check` and `imggate sbom`. The check itself runs on a thread of its own (bounded-check.ts);
 * signing, the store and the output formats other than the table load only when a run needs them, so
 * a CLI start stays short.
 */
export async function runCheck(args: readonly string[], io: Io, command: 'check' | 'sbom' = 'check', thread?: CheckThread): Promise<number> {
  const { values, positionals } = parseCommand(args, {
        format: { type: 'string', short: 'f' },
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
        offline: { type: 'boolean', default: false },
        'no-cache': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    io.stdout.write(command === 'sbom' ? SBOM_HELP : CHECK_HELP);
    return 0;
  }
  if (command === 'sbom') {
    // sbom records nothing and judges nothing: a flag about signing, storing or a second SBOM would be silently ignored.
    const recordingOnly = (['key', 'no-attest', 'no-push', 'attestation-out', 'no-store', 'sbom'] as const).filter((flag) => values[flag] !== undefined && values[flag] !== false);
    if (recordingOnly.length) throw usage(`sbom records no verdict: ${recordingOnly.map((f) => `--${f}`).join(', ')} ${recordingOnly.length === 1 ? 'belongs' : 'belong'} to check`);
  }
  if (positionals.length !== 1) throw usage(positionals.length ? `${command} takes one image reference, got ${positionals.length}` : `${command} needs an image reference`);
  const reference = positionals[0] as string;
  const format = formatOf(command, values.format);
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
  // The check's thread loads and validates the rules; a bad rules directory is thrown from there.
  const rulesDir = values.rules ?? config.rules.dir ?? DEFAULT_RULES_DIR;
  const showProgress = !values.quiet && !values['no-progress'] && io.stderr.isTTY === true;
  const options: CheckOptions & { readonly config: ConfigFile } = {
    config,
    env: io.env,
    limits,
    ...(values.platform ? { platform: values.platform } : {}),
    allPlatforms: values['all-platforms'],
    insecureRegistries: values['insecure-registry'] ?? [],
    ...(credentials ? { credentials } : {}),
    ...(values.osv ? { osv: values.osv } : {}),
    ...(showProgress ? { progress: progressPrinter(io.stderr) } : {}),
    // An SBOM is the inventory alone: it never waits for a package feed.
    offline: values.offline || command === 'sbom',
    noCache: values['no-cache'],
    // Fetching a feed can take a while on first use: say so on a terminal, and stay quiet in scripts.
    ...(!values.quiet && io.stderr.isTTY === true ? { feedProgress: (m: string) => io.stderr.write(`  ${m}\n`) } : {}),
  };
  const recording = command === 'check';
  if (values['attestation-out'] && values['no-attest']) throw usage('--attestation-out and --no-attest exclude each other');
  // Key and store are opened before the image is pulled: a wrong password should not cost a pull.
  const key = recording && !values['no-attest'] ? await (await import('./keys.js')).loadGateKey(values.key, config, io.env) : undefined;
  const store = recording && !values['no-store'] ? await (await import('../store/index.js')).openStore(config, io.env) : undefined;
  let report: Report;
  let ruleInfo: ReadonlyMap<string, RuleInfo> = new Map();
  let problems: readonly string[] = [];
  try {
    // The check runs on a thread of its own that is ended if it outlives its deadline (see bounded-check.ts).
    ({ report, ruleInfo } = await boundedCheck(reference, options, rulesDir, boundsOf(reference, options), options.progress, thread));
    // Without a key, a store or a bundle file there is nothing to record (and signing need not load).
    if (recording && (key || store || values['attestation-out'])) {
      const { recordVerdict } = await import('../record.js');
      ({ report, problems } = await recordVerdict(report, {
        config,
        checkOptions: options,
        key,
        push: !values['no-push'] && config.attest.push !== false,
        attestationOut: values['attestation-out'],
        store,
        rulesDir,
      }));
    }
  } finally {
    await store?.close();
  }

  // JSON keeps its meaning with DEL, C1 and bidi characters as \u escapes; the table escapes its own lines.
  const { toSarif } = format === 'sarif' ? await import('../report/sarif.js') : { toSarif: undefined };
  const { toCycloneDx } = format === 'cyclonedx' || values.sbom ? await import('../report/sbom.js') : { toCycloneDx: undefined };
  const rendered =
    format === 'json'
      ? jsonForTerminal(`${JSON.stringify(report, null, 2)}\n`)
      : format === 'sarif'
        ? jsonForTerminal(`${JSON.stringify(toSarif!(report, ruleInfo, VERSION), null, 2)}\n`)
        : format === 'cyclonedx'
          ? jsonForTerminal(toCycloneDx!(report))
          : `${renderTable(report)}\n`;
  if (values.sbom) await writeFile(values.sbom, toCycloneDx!(report));
  if (command === 'sbom') {
    // Only an image that could not be read has no SBOM; findings (a missing feed included) do not matter here.
    if (report.error) {
      say(io.stderr, `imggate: ${report.error.code}: ${report.error.message}\n`);
      return EXIT.error;
    }
    if (values.output) await writeFile(values.output, rendered);
    else io.stdout.write(rendered);
    return 0;
  }
  if (values.output) {
    await writeFile(values.output, rendered);
    if (!values.quiet) say(io.stdout, `${renderTable(report)}\n`);
  } else if (!values.quiet) {
    io.stdout.write(rendered);
  }
  if (report.verdict === 'error' && (values.quiet || format === 'json' || values.output)) {
    say(io.stderr, `imggate: ${report.error ? `${report.error.code}: ${report.error.message}` : 'the check could not conclude'}\n`);
  }
  for (const problem of problems) say(io.stderr, `imggate: ${problem}\n`);
  if (recording && !key && !values['no-attest'] && !values.quiet) {
    say(io.stderr, `imggate: the verdict was not signed: no gate key (--key, attest.key or ${'keys/gate.key'}; 'imggate keys generate' makes one)\n`);
  }
  // A verdict that was asked to be recorded and was not is an error: the deploy step would not find it.
  return problems.length ? EXIT.error : exitCodeFor(report.verdict);
}

const CHECK_FORMATS = ['table', 'json', 'sarif', 'cyclonedx'] as const;
type Format = (typeof CHECK_FORMATS)[number];
const isFormat = (text: string): text is Format => (CHECK_FORMATS as readonly string[]).includes(text);

/** The output format asked for. sbom writes its SBOM or refuses: whatever it printed would be taken for the SBOM. */
function formatOf(command: 'check' | 'sbom', asked: string | undefined): Format {
  if (command === 'sbom') {
    if (asked === undefined || asked === 'cyclonedx') return 'cyclonedx';
    const check = isFormat(asked) ? `; 'imggate check --format ${asked}' writes the check's report as ${asked}` : '';
    throw usage(`sbom writes CycloneDX JSON only (--format cyclonedx), not "${asked}"${check}`);
  }
  const format = asked ?? 'table';
  if (isFormat(format)) return format;
  throw usage(`--format must be ${CHECK_FORMATS.slice(0, -1).join(', ')} or ${CHECK_FORMATS.at(-1)}, not "${format}"`);
}

/** The check's deadline and heap; an unusable reference or config falls back to the defaults, and check() reports it. */
function boundsOf(reference: string, options: CheckOptions & { readonly config: ConfigFile }): { timeoutMs: number; maxHeapBytes: number } {
  try {
    const { limits } = resolveOptions(reference, options);
    return { timeoutMs: limits.timeoutMs, maxHeapBytes: limits.maxHeapBytes };
  } catch {
    return { timeoutMs: DEFAULT_LIMITS.timeoutMs, maxHeapBytes: DEFAULT_LIMITS.maxHeapBytes };
  }
}

function progressPrinter(stderr: NodeJS.WritableStream): ScanProgress {
  return {
    layerStarted: (layer) => say(stderr, `  pulling layer ${layer.index + 1} ${layer.descriptor.digest.slice(7, 19)} (${formatBytes(layer.descriptor.size)})\n`),
    layerKnown: (layer, stats) =>
      say(stderr, `  known   layer ${layer.index + 1} ${layer.descriptor.digest.slice(7, 19)}: ${stats.entries} entries, ${formatBytes(stats.uncompressedSize)} (layer cache)\n`),
    layerDone: (layer, stats) =>
      say(stderr, `  done    layer ${layer.index + 1} ${layer.descriptor.digest.slice(7, 19)}: ${stats.entries} entries, ${formatBytes(stats.uncompressedSize)}\n`),
  };
}


