import { boundedCheck } from './bounded-check.js';
import { loadConfig } from '../config/load.js';
import { parseDuration, parseSize } from '../config/units.js';
import { ImggateError, isImggateError } from '../errors.js';
import { DEFAULT_LIMITS, resolveOptions, type CheckOptions, type Limits } from '../options.js';
import { formatBytes, renderTable } from '../report/table.js';
import { jsonForTerminal } from '../report/terminal.js';
import type { Report } from '../report/types.js';
import type { ScanProgress } from '../scan/engine.js';
import { readFile, writeFile } from 'node:fs/promises';
import { DEFAULT_FEED_MAX_AGE_MS, storeDirOf, updateFeeds } from '../feeds/index.js';
import { exportFeeds, importFeeds } from '../feeds/transfer.js';
import { updateFeedFor } from '../feeds/resolve.js';
import { parseOsRelease } from '../packages/parsers.js';
import { hostPlatform } from '../oci/platform.js';
import { checkRuleExamples } from '../policy/examples.js';
import { loadRules } from '../policy/load-rules.js';
import { toSarif } from '../report/sarif.js';
import { toCycloneDx } from '../report/sbom.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { credentialsFrom, parseCommand, say, usage } from './common.js';
import { CHECK_HELP, FEEDS_HELP, HISTORY_HELP, KEYS_HELP, MAIN_HELP, RULES_HELP, SBOM_HELP, VERIFY_ATTESTATION_HELP } from './help.js';
import { loadGateKey, runKeys } from './keys.js';
import { runHistory, runVerifyAttestation } from './verdicts.js';
import { recordVerdict } from '../record.js';
import { openStore } from '../store/index.js';
import { VERSION } from './version.js';
import { runServe, SERVE_HELP } from './serve.js';

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
        else if (rest[0] === 'serve') io.stdout.write(SERVE_HELP);
        else io.stdout.write(MAIN_HELP);
        return command === undefined ? EXIT.usage : 0;
      case '-V':
      case '--version':
      case 'version':
        say(io.stdout, `imggate ${VERSION}\n`);
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
      case 'serve':
        return await runServe(rest, io);
      default:
        say(io.stderr, `imggate: unknown command "${command}"\n\n${MAIN_HELP}`);
        return EXIT.usage;
    }
  } catch (err) {
    const message = isImggateError(err) ? err.message : err instanceof Error ? err.message : String(err);
    say(io.stderr, `imggate: ${message}\n`);
    if (!isImggateError(err) || err.code === 'USAGE') say(io.stderr, `Run 'imggate help ${command ?? ''}' for usage.\n`);
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
        offline: { type: 'boolean', default: false },
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
    offline: values.offline,
    // Fetching a feed can take a while on first use: say so on a terminal, and stay quiet in scripts.
    ...(!values.quiet && io.stderr.isTTY === true ? { feedProgress: (m: string) => io.stderr.write(`  ${m}\n`) } : {}),
  };
  const recording = command === 'check';
  if (values['attestation-out'] && values['no-attest']) throw usage('--attestation-out and --no-attest exclude each other');
  // Key and store are opened before the image is pulled: a wrong password should not cost a pull.
  const key = recording && !values['no-attest'] ? await loadGateKey(values.key, config, io.env) : undefined;
  const store = recording && !values['no-store'] ? openStore(config, io.env) : undefined;
  let report: Report;
  let problems: readonly string[] = [];
  try {
    // The check runs on a thread of its own that is ended if it outlives its deadline (see bounded-check.ts).
    report = await boundedCheck(reference, options, rules.dir, deadlineOf(reference, options), options.progress);
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

  // JSON keeps its meaning with DEL, C1 and bidi characters as \u escapes; the table escapes its own lines.
  const rendered =
    format === 'json'
      ? jsonForTerminal(`${JSON.stringify(report, null, 2)}\n`)
      : format === 'sarif'
        ? jsonForTerminal(`${JSON.stringify(toSarif(report, rules.info, VERSION), null, 2)}\n`)
        : format === 'cyclonedx'
          ? jsonForTerminal(toCycloneDx(report))
          : `${renderTable(report)}\n`;
  if (values.sbom) await writeFile(values.sbom, toCycloneDx(report));
  if (command === 'sbom') {
    if (report.verdict === 'error') {
      say(io.stderr, `imggate: ${report.error ? `${report.error.code}: ${report.error.message}` : 'the image could not be read'}\n`);
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

async function runFeeds(args: readonly string[], io: Io): Promise<number> {
  const parsed = parseCommand(args, {
    config: { type: 'string', short: 'c' },
    release: { type: 'string', multiple: true },
    distro: { type: 'string' },
    arch: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const [sub, ...more] = parsed.positionals;
  if (parsed.values.help || sub === undefined) {
    io.stdout.write(FEEDS_HELP);
    return sub === undefined && !parsed.values.help ? EXIT.usage : 0;
  }
  const { config } = await loadConfig(parsed.values.config, io.env);
  const storeDir = storeDirOf(config, io.env);
  if (sub === 'export' || sub === 'import') {
    if (more.length !== 1) throw usage(`feeds ${sub} takes one file`);
    const file = more[0] as string;
    let failedImport = false;
    try {
      if (sub === 'export') {
        const n = await exportFeeds(storeDir, file);
        say(io.stdout, `${n} feed snapshot(s) with their signed InRelease and indexes → ${file}\n`);
      } else {
        const results = await importFeeds(storeDir, file, { config, now: new Date() });
        if (results.some((r) => r.error)) failedImport = true;
        for (const r of results) {
          say(io.stdout, r.error ? `${r.suite}: NOT imported: ${r.error}\n` : `${r.suite}: ${r.packages} packages, InRelease ${r.digest}${r.verified ? ', signature verified' : ', NOT verified'} (archive dated ${r.date ?? 'unknown'})\n`);
        }
      }
    } catch (err) {
      say(io.stderr, `imggate: feeds ${sub} failed: ${isImggateError(err) ? `${err.code}: ` : ''}${(err as Error).message}\n`);
      return EXIT.error;
    }
    return failedImport ? EXIT.error : 0;
  }
  if (sub !== 'update' || more.length) throw usage(`unknown feeds command "${parsed.positionals.join(' ')}"`);
  const configured = Boolean(config.feeds.debian?.length || config.feeds.alpine?.length || config.feeds.osv?.length);
  // With no feed configured, or with --release, the release comes from the host (or the flag) and the
  // archive from the host's own package sources: what a check of an image of that release would use.
  const releases = parsed.values.release ?? (configured ? [] : [undefined]);
  if (!configured && config.feeds.hostSources === false) {
    say(io.stderr, 'imggate: no feeds (osv, debian, alpine) configured in imggate.yaml and feeds.hostSources is false; nothing to update\n');
    return EXIT.usage;
  }
  let failed = false;
  try {
    if (configured) {
      for (const r of await updateFeeds(config, io.env)) {
        if (r.suite === 'osv') say(io.stdout, `osv: ${r.packages} advisories imported, digest ${r.digest} → ${r.file}\n`);
        else say(io.stdout, `${r.suite}: ${r.packages} packages, ${r.suite.startsWith('alpine ') ? 'APKINDEX' : 'InRelease'} ${r.digest}${r.verified ? ', signature verified' : ', NOT verified (no keyring configured)'} → ${r.file}\n`);
      }
    }
    for (const release of releases) {
      const host = parseOsRelease(await readFile('/etc/os-release', 'utf8').catch(() => ''));
      const id = parsed.values.distro ?? host?.id ?? 'debian';
      const codename = release ?? (id === 'alpine' ? undefined : host?.codename);
      const versionId = id === 'alpine' ? (release ?? host?.versionId)?.replace(/^v/, '') : undefined;
      if (!codename && !versionId) throw usage('the host does not say its release (VERSION_CODENAME); name one with --release');
      const started = Date.now();
      const results = await updateFeedFor({ id, ...(codename ? { codename } : {}), ...(versionId ? { versionId } : {}) }, { architecture: parsed.values.arch ?? hostPlatform().architecture }, {
        config,
        storeDir,
        maxAgeMs: config.feeds.maxAge ?? DEFAULT_FEED_MAX_AGE_MS,
        autoUpdate: true,
        now: new Date(),
        progress: io.stderr.isTTY ? (m) => say(io.stderr, `  ${m}\n`) : undefined,
      });
      if (typeof results === 'string') throw new ImggateError('NOT_FOUND', results);
      for (const r of results) {
        if (r.error) {
          failed = true;
          say(io.stderr, `imggate: ${r.suite} from ${r.mirror}: ${r.error}\n`);
        } else {
          say(io.stdout, `${r.suite}: ${r.packages} packages, InRelease ${r.digest}${r.verified ? ', signature verified' : ', NOT verified'}, archive dated ${r.date ?? 'unknown'}${r.validUntil ? `, valid until ${r.validUntil}` : ''} (${r.mirror})\n`);
        }
      }
      say(io.stdout, `fetched in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
  } catch (err) {
    say(io.stderr, `imggate: feeds update failed: ${isImggateError(err) ? `${err.code}: ` : ''}${(err as Error).message}\n`);
    return EXIT.error;
  }
  return failed ? EXIT.error : 0;
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
    say(io.stderr, `imggate: ${(err as Error).message}\n`);
    return EXIT.fail;
  }
  const { failures, cases } = checkRuleExamples(rules);
  for (const f of failures) {
    say(io.stderr, `${f.file}: rule ${f.rule}: ${f.kind} example ${f.index + 1} ${f.kind === 'positive' ? 'is not found' : 'is found'}\n`);
  }
  const { checkRulePatterns } = await import('../policy/redos-rules.js');
  const slow = await checkRulePatterns(rules);
  for (const f of slow) say(io.stderr, `${f.file}: rule ${f.rule}: ${f.field} may backtrack super-linearly: ${f.summary}\n`);
  const types = rules.secretRules.length + rules.fileRules.length;
  say(io.stdout, `${rules.dir}: ${rules.info.size} rules (${types} secret types), ${cases} examples run, ${failures.length} failing; ${slow.length} pattern(s) not shown linear by the ReDoS checker; policy digest ${rules.digest}\n`);
  const t = rules.trust;
  say(io.stdout, `trust: ${t.signers.size} signer(s), ${t.scopes.length} scope(s) (${t.scopes.map((s) => `${s.origin}: ${s.level}`).join('; ') || 'none'}), default ${t.defaultLevel}\n`);
  return failures.length || slow.length ? EXIT.fail : 0;
}

/** The check's own deadline; an unusable reference or config falls back to the default, and check() reports it. */
function deadlineOf(reference: string, options: CheckOptions): number {
  try {
    return resolveOptions(reference, options).limits.timeoutMs;
  } catch {
    return DEFAULT_LIMITS.timeoutMs;
  }
}

function progressPrinter(stderr: NodeJS.WritableStream): ScanProgress {
  return {
    layerStarted: (layer) => say(stderr, `  pulling layer ${layer.index + 1} ${layer.descriptor.digest.slice(7, 19)} (${formatBytes(layer.descriptor.size)})\n`),
    layerDone: (layer, stats) =>
      say(stderr, `  done    layer ${layer.index + 1} ${layer.descriptor.digest.slice(7, 19)}: ${stats.entries} entries, ${formatBytes(stats.uncompressedSize)}\n`),
  };
}


