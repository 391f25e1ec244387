import { EXIT } from './exit-codes.js';
import type * as HelpTexts from './help.js';

export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * A command loads its module when it runs, and nothing else does: `imggate version` reads
 * package.json and no more, help reads the help texts, and signing, the server and the feeds stay out
 * of a plain `imggate check`'s start.
 */
interface Command {
  readonly run: (args: readonly string[], io: Io) => Promise<number>;
  /** The text `imggate help NAME` prints; the main help where a command has none of its own. */
  readonly help?: () => Promise<string>;
}

const helpText =
  (name: keyof typeof HelpTexts) =>
  async (): Promise<string> =>
    (await import('./help.js'))[name];

const COMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>([
  ['check', { run: (args, io) => runCheck(args, io, 'check'), help: helpText('CHECK_HELP') }],
  ['sbom', { run: (args, io) => runCheck(args, io, 'sbom'), help: helpText('SBOM_HELP') }],
  ['verify-attestation', { run: async (args, io) => (await import('./verdicts.js')).runVerifyAttestation(args, io), help: helpText('VERIFY_ATTESTATION_HELP') }],
  ['history', { run: async (args, io) => (await import('./verdicts.js')).runHistory(args, io), help: helpText('HISTORY_HELP') }],
  ['keys', { run: async (args, io) => (await import('./keys.js')).runKeys(args, io), help: helpText('KEYS_HELP') }],
  ['rules', { run: async (args, io) => (await import('./rules-command.js')).runRules(args, io), help: helpText('RULES_HELP') }],
  ['feeds', { run: async (args, io) => (await import('./feeds-command.js')).runFeeds(args, io), help: helpText('FEEDS_HELP') }],
  ['serve', { run: async (args, io) => (await import('./serve.js')).runServe(args, io), help: helpText('SERVE_HELP') }],
  ['help', { run: async ([name], io) => write(io.stdout, await (commandNamed(name)?.help ?? helpText('MAIN_HELP'))(), 0) }],
  // The version is package.json's own: nothing from outside, so it needs no escaping for the terminal.
  ['version', { run: async (_args, io) => write(io.stdout, `imggate ${(await import('../version.js')).VERSION}\n`, 0) }],
]);

/** check and sbom start the check's thread first: it loads its modules while the CLI loads check's and reads the config. */
async function runCheck(args: readonly string[], io: Io, command: 'check' | 'sbom'): Promise<number> {
  const { CheckThread } = await import('./check-thread.js');
  const thread = new CheckThread();
  return (await import('./check-command.js')).runCheck(args, io, command, thread);
}

const ALIASES: ReadonlyMap<string, string> = new Map([
  ['-h', 'help'],
  ['--help', 'help'],
  ['-V', 'version'],
  ['--version', 'version'],
]);

function commandNamed(name: string | undefined): Command | undefined {
  return name === undefined ? undefined : COMMANDS.get(ALIASES.get(name) ?? name);
}

/**
 * `-h` or `--help` before any `--`, as the commands' own parsers read it: parseArgs takes no value
 * that starts with a dash without `=`, so neither token can be an option's value.
 */
function asksForHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '-h' || arg === '--help') return true;
  }
  return false;
}

function write(stream: NodeJS.WritableStream, text: string, code: number): number {
  stream.write(text);
  return code;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[], io: Io = defaultIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) return write(io.stdout, await helpText('MAIN_HELP')(), EXIT.usage);
  try {
    const command = commandNamed(name);
    // `imggate check --help` answers from the help texts without loading check's module (and with it
    // the config schema and the registry client).
    if (command?.help && asksForHelp(rest)) return write(io.stdout, await command.help(), 0);
    if (command) return await command.run(rest, io);
    const [{ say }, { MAIN_HELP }] = await Promise.all([import('./common.js'), import('./help.js')]);
    say(io.stderr, `imggate: unknown command "${name}"\n\n${MAIN_HELP}`);
    return EXIT.usage;
  } catch (err) {
    const [{ isImggateError }, { say }] = await Promise.all([import('../errors.js'), import('./common.js')]);
    const message = isImggateError(err) ? err.message : err instanceof Error ? err.message : String(err);
    say(io.stderr, `imggate: ${message}\n`);
    if (!isImggateError(err) || err.code === 'USAGE') say(io.stderr, `Run 'imggate help ${name}' for usage.\n`);
    return EXIT.usage;
  }
}

function defaultIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}
