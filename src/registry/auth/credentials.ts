import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as z from '../../zod.js';
import { ImggateError } from '../../errors.js';
import { describeIssues } from '../../oci/schemas.js';

export type Credential =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  /** An OAuth2 refresh token (`identitytoken` in Docker's config), exchanged at the token endpoint. */
  | { readonly kind: 'identity-token'; readonly username: string; readonly token: string };

/** Looks up the credential for a registry host; undefined means anonymous. */
export interface CredentialProvider {
  get(registry: string): Promise<Credential | undefined>;
}

const dockerConfigSchema = z.looseObject({
  auths: z.optional(
    z.record(
      z.string(),
      z.looseObject({
        auth: z.optional(z.string()),
        username: z.optional(z.string()),
        password: z.optional(z.string()),
        identitytoken: z.optional(z.string()),
      }),
    )),
  credsStore: z.optional(z.string()),
  credHelpers: z.optional(z.record(z.string(), z.string())),
});
type DockerConfig = z.infer<typeof dockerConfigSchema>;

/** Docker keys Hub credentials under its old v1 URL; every other key is a host, maybe with a scheme. */
export function normalizeConfigKey(key: string): string {
  let host = key.replace(/^[a-z]+:\/\//i, '');
  host = host.split('/')[0] ?? host;
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') return 'docker.io';
  return host;
}

/** The default location of Docker's client config: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env['DOCKER_CONFIG'] || path.join(os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

/**
 * Credentials from a Docker client config: `credHelpers[host]`, then `credsStore`, then `auths`,
 * the order Docker's own client uses. Helpers are run as `docker-credential-NAME get`.
 */
export class DockerConfigCredentials implements CredentialProvider {
  readonly #file: string;
  #config: Promise<DockerConfig | undefined> | undefined;

  constructor(file: string = defaultDockerConfigPath()) {
    this.#file = file;
  }

  async get(registry: string): Promise<Credential | undefined> {
    const config = await (this.#config ??= this.#load());
    if (!config) return undefined;
    const helper = Object.entries(config.credHelpers ?? {}).find(([key]) => normalizeConfigKey(key) === registry)?.[1];
    if (helper) return runHelper(helper, registry);
    if (config.credsStore) {
      const fromStore = await runHelper(config.credsStore, registry).catch((err: unknown) => {
        if (err instanceof ImggateError && err.code === 'NOT_FOUND') return undefined;
        throw err;
      });
      if (fromStore) return fromStore;
    }
    const entry = Object.entries(config.auths ?? {}).find(([key]) => normalizeConfigKey(key) === registry)?.[1];
    if (!entry) return undefined;
    let username = entry.username;
    let password = entry.password;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) {
        throw new ImggateError('CREDENTIALS_INVALID', `${this.#file}: auths["${registry}"].auth is not base64 of user:password`);
      }
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
    if (entry.identitytoken) return { kind: 'identity-token', username: username ?? '<token>', token: entry.identitytoken };
    if (username !== undefined && password !== undefined) return { kind: 'basic', username, password };
    return undefined;
  }

  async #load(): Promise<DockerConfig | undefined> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ImggateError('CREDENTIALS_INVALID', `cannot read ${this.#file}: ${(err as Error).message}`, { cause: err });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ImggateError('CREDENTIALS_INVALID', `${this.#file} is not valid JSON`, { cause: err });
    }
    const parsed = dockerConfigSchema.safeParse(json);
    if (!parsed.success) {
      throw new ImggateError('CREDENTIALS_INVALID', `${this.#file}: ${describeIssues(parsed.error).join('; ')}`);
    }
    return parsed.data;
  }
}

const helperOutput = z.looseObject({ Username: z.string(), Secret: z.string() });

/** Runs `docker-credential-NAME get` with the host on stdin, as the credential-helper protocol says. */
async function runHelper(name: string, registry: string): Promise<Credential | undefined> {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new ImggateError('CREDENTIALS_INVALID', `credential helper name "${name}" is not valid`);
  }
  // Loaded here: most checks run no helper, and child_process is a few ms of every thread's start.
  const { execFile } = await import('node:child_process');
  const serverUrl = registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${name}`, ['get'], { timeout: 30_000, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      if (err) {
        // A helper named in config.json but not installed (Docker Desktop removed, say): no credentials,
        // so public images still pull anonymously, as they would with no helper configured.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          resolve(undefined);
          return;
        }
        if (/credentials not found/i.test(stdout) || /credentials not found/i.test(String(err.message))) {
          reject(new ImggateError('NOT_FOUND', `docker-credential-${name} has no credentials for ${registry}`));
          return;
        }
        reject(new ImggateError('CREDENTIALS_INVALID', `docker-credential-${name} get failed for ${registry}: ${err.message.split('\n')[0]}`, { cause: err }));
        return;
      }
      let parsed;
      try {
        parsed = helperOutput.safeParse(JSON.parse(stdout));
      } catch (parseErr) {
        reject(new ImggateError('CREDENTIALS_INVALID', `docker-credential-${name} printed something other than JSON`, { cause: parseErr }));
        return;
      }
      if (!parsed.success) {
        reject(new ImggateError('CREDENTIALS_INVALID', `docker-credential-${name}: ${describeIssues(parsed.error).join('; ')}`));
        return;
      }
      const { Username, Secret } = parsed.data;
      resolve(Username === '<token>' ? { kind: 'identity-token', username: Username, token: Secret } : { kind: 'basic', username: Username, password: Secret });
    });
    child.stdin?.end(serverUrl);
  });
}

/** Explicit credentials (flags, environment, imggate.yaml) for named hosts; they win over Docker's config. */
export class StaticCredentials implements CredentialProvider {
  readonly #byHost: ReadonlyMap<string, Credential>;
  constructor(byHost: ReadonlyMap<string, Credential>) {
    this.#byHost = byHost;
  }
  async get(registry: string): Promise<Credential | undefined> {
    return this.#byHost.get(registry);
  }
}

/** Asks each provider in turn; the first that knows the host answers. */
export class ChainCredentials implements CredentialProvider {
  readonly #providers: readonly CredentialProvider[];
  constructor(providers: readonly CredentialProvider[]) {
    this.#providers = providers;
  }
  async get(registry: string): Promise<Credential | undefined> {
    for (const provider of this.#providers) {
      const credential = await provider.get(registry);
      if (credential) return credential;
    }
    return undefined;
  }
}
