import { isImggateError } from '../errors.js';
import { say } from './common.js';
import { EXIT } from './exit-codes.js';
import { CHECK_HELP, FEEDS_HELP, HISTORY_HELP, KEYS_HELP, MAIN_HELP, RULES_HELP, SBOM_HELP, VERIFY_ATTESTATION_HELP } from './help.js';
import { VERSION } from './version.js';

// Each command's module is loaded when that command runs: signing, the server and the feeds stay out
// of a plain `imggate check`'s start.
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
        else if (rest[0] === 'serve') io.stdout.write((await import('./serve.js')).SERVE_HELP);
        else io.stdout.write(MAIN_HELP);
        return command === undefined ? EXIT.usage : 0;
      case '-V':
      case '--version':
      case 'version':
        say(io.stdout, `imggate ${VERSION}\n`);
        return 0;
      case 'check':
        return await (await import('./check-command.js')).runCheck(rest, io);
      case 'rules':
        return await (await import('./rules-command.js')).runRules(rest, io);
      case 'feeds':
        return await (await import('./feeds-command.js')).runFeeds(rest, io);
      case 'sbom':
        return await (await import('./check-command.js')).runCheck(['--format', 'cyclonedx', ...rest], io, 'sbom');
      case 'verify-attestation':
        return await (await import('./verdicts.js')).runVerifyAttestation(rest, io);
      case 'history':
        return await (await import('./verdicts.js')).runHistory(rest, io);
      case 'keys':
        return await (await import('./keys.js')).runKeys(rest, io);
      case 'serve':
        return await (await import('./serve.js')).runServe(rest, io);
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
