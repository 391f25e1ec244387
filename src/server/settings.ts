import type { ConfigFile, SecretSetting } from '../config/schema.js';
import { ImggateError, type ConfigErrorCode } from '../errors.js';
import { RECEIVERS, type Receiver } from './receivers/index.js';
import { parseWatch, type WatchPattern } from './watch.js';

export type Scope = 'read' | 'write';

export type ResolvedAuth =
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'standard-webhooks'; readonly secret: string; readonly toleranceMs: number }
  | { readonly kind: 'path'; readonly secret: string };

export interface ResolvedReceiver {
  readonly name: string;
  readonly receiver: Receiver;
  readonly auth: ResolvedAuth;
  readonly registry?: string | undefined;
}

/** `serve:` with its secrets read, environment and flags applied, every cross-field rule checked. */
export interface ServeRuntime {
  readonly host: string;
  readonly port: number;
  readonly receivers: ReadonlyMap<string, ResolvedReceiver>;
  readonly apiTokens: ReadonlyArray<{ readonly secret: string; readonly value: { readonly name: string; readonly scopes: readonly Scope[] } }>;
  /** Registry hosts the service may contact; nothing else is ever dialled. */
  readonly allow: ReadonlySet<string>;
  readonly concurrency: number;
  readonly checkTimeoutMs: number;
  readonly leaseMs: number;
  readonly maxAttempts: number;
  readonly backoffMs: number;
  readonly backoffMaxMs: number;
  readonly bodyLimit: number;
  readonly drainTimeoutMs: number;
  /** The reconcile loop, when `serve.reconcile` is set. */
  readonly reconcile?: { readonly watch: readonly WatchPattern[]; readonly intervalMs: number } | undefined;
}

export interface ServeFlags {
  readonly listen?: string | undefined;
  readonly concurrency?: string | undefined;
}

/** Environment variables that override `serve:` (flags override both). */
export const SERVE_ENV = { listen: 'IMGGATE_SERVE_LISTEN', concurrency: 'IMGGATE_SERVE_CONCURRENCY' } as const;

const DEFAULT_TOLERANCE_MS = 5 * 60_000;

/**
 * Resolves the service's settings. Every problem names its field (`serve.receivers.hub.registry`,
 * `$IMGGATE_SERVE_LISTEN`, `--concurrency`) and all of them are reported at once.
 */
export function resolveServe(config: ConfigFile, env: NodeJS.ProcessEnv, flags: ServeFlags = {}): ServeRuntime {
  const problems: string[] = [];
  const s = config.serve;
  const secretOf = (field: string, setting: SecretSetting): string => {
    if ('value' in setting) return setting.value;
    const value = env[setting.env];
    if (!value) problems.push(`${field}.env: the environment variable ${setting.env} is not set`);
    else if (value.length < 16) problems.push(`${field}.env: ${setting.env} holds fewer than 16 characters`);
    return value ?? '';
  };

  let listen = s.listen;
  let listenField = 'serve.listen';
  if (env[SERVE_ENV.listen]) [listen, listenField] = [env[SERVE_ENV.listen] as string, `$${SERVE_ENV.listen}`];
  if (flags.listen !== undefined) [listen, listenField] = [flags.listen, '--listen'];
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) problems.push(`${listenField}: "${listen}" is not host:port`);

  let concurrency = s.concurrency;
  for (const [field, text] of [[`$${SERVE_ENV.concurrency}`, env[SERVE_ENV.concurrency] || undefined], ['--concurrency', flags.concurrency]] as const) {
    if (text === undefined) continue;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > 64) problems.push(`${field}: "${text}" is not a whole number from 1 to 64`);
    else concurrency = n;
  }

  const allow = new Set([...Object.keys(config.registries), ...s.allowRegistries]);
  const receivers = new Map<string, ResolvedReceiver>();
  for (const [name, r] of Object.entries(s.receivers)) {
    const field = `serve.receivers.${name}`;
    let auth: ResolvedAuth;
    if (r.auth.kind === 'token') auth = { kind: 'token', token: secretOf(`${field}.auth.token`, r.auth.token) };
    else if (r.auth.kind === 'path') auth = { kind: 'path', secret: secretOf(`${field}.auth.secret`, r.auth.secret) };
    else {
      const secret = secretOf(`${field}.auth.secret`, r.auth.secret);
      const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
      if (secret && key.length < 16) problems.push(`${field}.auth.secret: a Standard Webhooks secret is whsec_ and at least 16 bytes of base64`);
      auth = { kind: 'standard-webhooks', secret, toleranceMs: r.auth.tolerance ?? DEFAULT_TOLERANCE_MS };
    }
    if (auth.kind === 'path' && !/^[A-Za-z0-9_-]+$/.test(auth.secret) && auth.secret) problems.push(`${field}.auth.secret: a path secret is letters, digits, - and _`);
    const tagOnly = r.type === 'dockerhub' || r.type === 'quay';
    if (tagOnly && !r.registry) problems.push(`${field}.registry: a ${r.type} receiver must name the registry its events mean`);
    if (r.registry && !allow.has(r.registry)) problems.push(`${field}.registry: ${r.registry} is not an allowed registry (registries: or serve.allowRegistries)`);
    receivers.set(name, { name, receiver: RECEIVERS[r.type], auth, registry: r.registry });
  }
  let reconcile: ServeRuntime['reconcile'];
  if (s.reconcile) {
    const watch: WatchPattern[] = [];
    s.reconcile.repositories.forEach((text, i) => {
      const field = `serve.reconcile.repositories.${i}`;
      try {
        const w = parseWatch(text);
        if (!allow.has(w.registry)) problems.push(`${field}: ${w.registry} is not an allowed registry (registries: or serve.allowRegistries)`);
        watch.push(w);
      } catch (err) {
        problems.push(`${field}: ${(err as Error).message}`);
      }
    });
    if (s.reconcile.interval < 1_000) problems.push('serve.reconcile.interval: at least 1s');
    reconcile = { watch, intervalMs: s.reconcile.interval };
  }
  const apiTokens = s.apiTokens.map((t, i) => ({ secret: secretOf(`serve.apiTokens.${i}.token`, t.token), value: { name: t.name, scopes: t.scopes } }));
  if (problems.length) {
    throw new ImggateError<ConfigErrorCode>('CONFIG_INVALID', `imggate serve cannot start:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
  return {
    host: (m?.[1] as string).replace(/^\[(.*)\]$/, '$1'),
    port,
    receivers,
    apiTokens,
    allow,
    concurrency,
    checkTimeoutMs: s.checkTimeout,
    leaseMs: s.lease,
    maxAttempts: s.maxAttempts,
    backoffMs: s.backoff,
    backoffMaxMs: s.backoffMax,
    bodyLimit: s.bodyLimit,
    drainTimeoutMs: s.drainTimeout,
    reconcile,
  };
}
