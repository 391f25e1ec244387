import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateSigningKey, parsePublicKey, parseSigningKey, type SigningKey } from '../attest/keys.js';
import type { ConfigFile } from '../config/schema.js';
import { ImggateError } from '../errors.js';
import { KEYS_HELP } from './help.js';
import { parseCommand, say } from './common.js';
import { EXIT } from './exit-codes.js';
import type { Io } from './main.js';

export const DEFAULT_GATE_KEY = path.join('keys', 'gate.key');

/**
 * The gate's signing key: `--key`, else attest.key, else keys/gate.key when it exists. A key that was
 * named but cannot be read is an error; only the unnamed default may be absent.
 */
export async function loadGateKey(flag: string | undefined, config: ConfigFile, env: NodeJS.ProcessEnv): Promise<SigningKey | undefined> {
  const named = flag ?? config.attest.key;
  const file = named ?? DEFAULT_GATE_KEY;
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    if (named === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ImggateError('KEY_INVALID', `cannot read the gate key ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseSigningKey(pem, keyPassword(env), file);
}

/** The key password: $IMGGATE_KEY_PASSWORD, else cosign's $COSIGN_PASSWORD (so a cosign key works as is). */
export function keyPassword(env: NodeJS.ProcessEnv): string | undefined {
  return env['IMGGATE_KEY_PASSWORD'] ?? env['COSIGN_PASSWORD'] ?? undefined;
}

export async function loadPublicKeyFile(file: string) {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new ImggateError('KEY_INVALID', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parsePublicKey(pem, file);
}

export async function runKeys(args: readonly string[], io: Io): Promise<number> {
  const parsed = parseCommand(args, { 'output-key-prefix': { type: 'string' }, force: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } });
  const [sub, ...extra] = parsed.positionals;
  if (parsed.values.help || sub === undefined) {
    io.stdout.write(KEYS_HELP);
    return sub === undefined && !parsed.values.help ? EXIT.usage : 0;
  }
  if (sub !== 'generate' || extra.length) throw new ImggateError('USAGE', `unknown keys command "${parsed.positionals.join(' ')}"`);
  const prefix = parsed.values['output-key-prefix'] ?? path.join('keys', 'gate');
  const keyFile = `${prefix}.key`;
  const pubFile = `${prefix}.pub`;
  if (!parsed.values.force) {
    for (const file of [keyFile, pubFile]) {
      if (await stat(file).then(() => true, () => false)) throw new ImggateError('USAGE', `${file} exists; pass --force to replace it`);
    }
  }
  const password = keyPassword(io.env);
  const { privatePem, publicPem } = generateSigningKey(password);
  await mkdir(path.dirname(path.resolve(keyFile)), { recursive: true });
  await writeFile(keyFile, privatePem, { mode: 0o600 });
  await chmod(keyFile, 0o600);
  await writeFile(pubFile, publicPem);
  const key = parseSigningKey(privatePem, password, keyFile);
  say(io.stdout, `wrote ${keyFile} (cosign's encrypted format, ${password ? 'with $IMGGATE_KEY_PASSWORD' : 'with an EMPTY password: set IMGGATE_KEY_PASSWORD'}) and ${pubFile}; key id ${key.keyId}\n`);
  return 0;
}
