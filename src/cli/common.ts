import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ImggateError } from '../errors.js';
import { forTerminal } from '../report/terminal.js';
import type { CheckOptions } from '../options.js';
import type { Io } from './main.js';

export function usage(message: string): ImggateError {
  return new ImggateError('USAGE', message);
}

/** Registry credentials from `--creds USER:PASS` or `--username U --password-stdin`. */
export async function credentialsFrom(
  values: { creds?: string | undefined; username?: string | undefined; 'password-stdin'?: boolean | undefined },
  io: Io,
): Promise<CheckOptions['credentials']> {
  if (values.creds !== undefined) {
    const colon = values.creds.indexOf(':');
    if (colon <= 0) throw usage('--creds takes USER:PASSWORD');
    return { username: values.creds.slice(0, colon), password: values.creds.slice(colon + 1) };
  }
  if (values.username !== undefined) {
    if (!values['password-stdin']) throw usage('--username needs --password-stdin (passwords on the command line leak into process lists; or use --creds)');
    return { username: values.username, password: (await readAll(io.stdin)).replace(/\r?\n$/, '') };
  }
  return undefined;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** `parseArgs` over a command's arguments (positionals allowed), with a parse failure as a usage error. */
type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: O }>>;

export function parseCommand<const O extends Options>(args: readonly string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: [...args], allowPositionals: true as const, options });
  } catch (err) {
    throw usage((err as Error).message);
  }
}

/**
 * Writes text meant for a person: each line through `forTerminal`, so that nothing a registry or an
 * image said (error bodies, names, paths) reaches the terminal raw. JSON goes through `jsonForTerminal`.
 */
export function say(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.split('\n').map(forTerminal).join('\n'));
}
