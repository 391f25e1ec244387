import { readFileSync } from 'node:fs';
import { ImggateError } from './errors.js';
import type { ConfigFile, RegistrySettings } from './config/schema.js';
import type { RuleSet } from './policy/load-rules.js';
import type { Analyzer } from './scan/analyzer.js';
import type { ScanLimits, ScanProgress } from './scan/engine.js';
import {
  ChainCredentials,
  DockerConfigCredentials,
  StaticCredentials,
  type Credential,
  type CredentialProvider,
} from './registry/auth/credentials.js';
import { DEFAULT_MIN_BYTES_PER_SECOND, DEFAULT_REQUEST_TIMEOUT_MS, RegistryClient, type RegistryClientOptions } from './registry/client.js';
import { VERSION } from './version.js';
import { parseReference } from './registry/reference.js';
import { DEFAULT_COUNT_LIMITS, type CountLimits } from './oci/counts.js';
import { DEFAULT_MAX_HEAP_BYTES } from './heap.js';

/** Options of `check()`, the library entry point; the CLI builds the same object from flags. */
export interface CheckOptions {
  /** A validated config (see `loadConfig`); defaults apply when absent. */
  readonly config?: ConfigFile;
  /** `os/arch[/variant]`; default the host's. */
  readonly platform?: string;
  /** Check every platform of an index, each reported on its own. */
  readonly allPlatforms?: boolean;
  /** Hosts to speak plain HTTP (or unverified HTTPS) to, besides those in the config. */
  readonly insecureRegistries?: readonly string[];
  /** Credentials for the image's own registry; win over config and Docker's config.json. */
  readonly credentials?: { readonly username: string; readonly password: string };
  readonly limits?: Partial<Limits>;
  readonly analyzers?: readonly Analyzer[];
  /** A rules directory, or rules already loaded; default: imggate.yaml's rules.dir, then the bundled rules/. */
  readonly rules?: string | RuleSet;
  /** Directories of OSV advisories (JSON) to match installed packages against; default: imggate.yaml's feeds.osv. */
  readonly osv?: readonly string[];
  /** The date the check is as of (end-of-life and exception expiry); default now. */
  readonly now?: Date;
  readonly signal?: AbortSignal;
  readonly progress?: ScanProgress;
  /** Never fetch feeds during the check (air-gapped): a missing or stale snapshot is reported instead. */
  readonly offline?: boolean;
  /** Read every layer, even those the layer cache knows (and do not consult or fill it). */
  readonly noCache?: boolean;
  /** Told when a feed is being fetched before the check can judge packages (a progress line). */
  readonly feedProgress?: (message: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

export interface Limits extends ScanLimits, CountLimits {
  /** Compressed size one layer may have. */
  readonly maxLayerBytes: number;
  readonly timeoutMs: number;
  /** Total deadline of one registry request (config `limits.requestTimeout`). */
  readonly requestTimeoutMs: number;
  /** A blob's deadline grows by its size at this rate (config `limits.minTransferRate`). */
  readonly minBytesPerSecond: number;
  /** JavaScript heap the CLI's check thread may use (config `limits.maxHeap`); past it the check is an error. */
  readonly maxHeapBytes: number;
  /** Bytes the members of one archive in the image (a jar and the jars in it) may inflate to (`limits.maxArchiveInflate`). */
  readonly maxArchiveInflateBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxLayerBytes: 8 * 1024 ** 3,
  maxUncompressedLayerBytes: 16 * 1024 ** 3,
  maxUncompressedTotalBytes: 64 * 1024 ** 3,
  // Files up to this size are held whole, so the secret scan hashes one (for the package databases'
  // checksums) only when it holds a secret; a larger file is hashed as it streams, secret or not.
  maxFileBytes: 8 * 1024 * 1024,
  concurrency: 2,
  timeoutMs: 30 * 60_000,
  requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  minBytesPerSecond: DEFAULT_MIN_BYTES_PER_SECOND,
  maxHeapBytes: DEFAULT_MAX_HEAP_BYTES,
  maxDirectoryEntries: 1_000_000,
  maxPathDepth: 1024,
  maxEntries: 2_000_000,
  maxArchiveInflateBytes: 1024 ** 3,
  ...DEFAULT_COUNT_LIMITS,
};

export interface ResolvedRegistry {
  readonly insecure: boolean;
  readonly ca: string | undefined;
  readonly mirrors: readonly string[];
}

/** Everything `check()` needs, merged from defaults, the config file and explicit options (which win). */
export interface Resolved {
  readonly config: ConfigFile;
  readonly limits: Limits;
  readonly credentials: CredentialProvider;
  registry(host: string): ResolvedRegistry;
  /** A client for `host` with its settings (TLS, CA) and the credentials: the one way imggate talks to a registry. */
  client(host: string, extra?: Pick<RegistryClientOptions, 'signal' | 'timeoutMs' | 'requestTimeoutMs' | 'minBytesPerSecond'>): RegistryClient;
}

/**
 * `options` with a config: every default when the caller passed none. The schema loads only then
 * (building it is much of what a short command spends on start-up; the CLI passes the config it
 * loaded, usually from the cache).
 */
export async function withConfig<T extends { readonly config?: ConfigFile | undefined }>(options: T): Promise<T & { readonly config: ConfigFile }> {
  if (options.config) return options as T & { readonly config: ConfigFile };
  const { defaultConfig } = await import('./config/parse.js');
  return { ...options, config: defaultConfig() };
}

export function resolveOptions(reference: string, options: CheckOptions & { readonly config: ConfigFile }): Resolved {
  const config = options.config;
  const env = options.env ?? process.env;
  const l = config.limits;
  const limits: Limits = {
    maxLayerBytes: options.limits?.maxLayerBytes ?? l.maxLayerBytes ?? DEFAULT_LIMITS.maxLayerBytes,
    maxUncompressedLayerBytes: options.limits?.maxUncompressedLayerBytes ?? l.maxUncompressedLayerBytes ?? DEFAULT_LIMITS.maxUncompressedLayerBytes,
    maxUncompressedTotalBytes: options.limits?.maxUncompressedTotalBytes ?? l.maxTotalBytes ?? DEFAULT_LIMITS.maxUncompressedTotalBytes,
    maxFileBytes: options.limits?.maxFileBytes ?? l.maxFileBytes ?? DEFAULT_LIMITS.maxFileBytes,
    concurrency: options.limits?.concurrency ?? l.concurrency ?? DEFAULT_LIMITS.concurrency,
    timeoutMs: options.limits?.timeoutMs ?? l.timeout ?? DEFAULT_LIMITS.timeoutMs,
    requestTimeoutMs: options.limits?.requestTimeoutMs ?? l.requestTimeout ?? DEFAULT_LIMITS.requestTimeoutMs,
    minBytesPerSecond: options.limits?.minBytesPerSecond ?? l.minTransferRate ?? DEFAULT_LIMITS.minBytesPerSecond,
    maxLayers: options.limits?.maxLayers ?? l.maxLayers ?? DEFAULT_LIMITS.maxLayers,
    maxPlatforms: options.limits?.maxPlatforms ?? l.maxPlatforms ?? DEFAULT_LIMITS.maxPlatforms,
    maxHistory: options.limits?.maxHistory ?? l.maxHistory ?? DEFAULT_LIMITS.maxHistory,
    maxEnv: options.limits?.maxEnv ?? l.maxEnv ?? DEFAULT_LIMITS.maxEnv,
    maxLabels: options.limits?.maxLabels ?? l.maxLabels ?? DEFAULT_LIMITS.maxLabels,
    maxHeapBytes: options.limits?.maxHeapBytes ?? l.maxHeap ?? DEFAULT_LIMITS.maxHeapBytes,
    maxDirectoryEntries: options.limits?.maxDirectoryEntries ?? l.maxDirectoryEntries ?? DEFAULT_LIMITS.maxDirectoryEntries,
    maxPathDepth: options.limits?.maxPathDepth ?? l.maxPathDepth ?? DEFAULT_LIMITS.maxPathDepth,
    maxEntries: options.limits?.maxEntries ?? l.maxEntries ?? DEFAULT_LIMITS.maxEntries,
    maxArchiveInflateBytes: options.limits?.maxArchiveInflateBytes ?? l.maxArchiveInflate ?? DEFAULT_LIMITS.maxArchiveInflateBytes,
  };

  const explicit = new Map<string, Credential>();
  for (const [host, settings] of Object.entries(config.registries)) {
    const c = settings.credentials;
    if (!c) continue;
    const password = c.password ?? (c.passwordEnv ? env[c.passwordEnv] : undefined);
    if (password === undefined) {
      throw new ImggateError('CONFIG_INVALID', `registries.${host}.credentials: no password (set password or passwordEnv${c.passwordEnv ? `; $${c.passwordEnv} is unset` : ''})`);
    }
    explicit.set(host, { kind: 'basic', username: c.username, password });
  }
  const imageHost = registryHostOf(reference);
  const flagCreds = options.credentials ?? envCredentials(env);
  if (flagCreds && imageHost) explicit.set(imageHost, { kind: 'basic', ...flagCreds });
  const providers: CredentialProvider[] = [new StaticCredentials(explicit)];
  const dockerConfig = config.credentials.dockerConfig;
  if (dockerConfig !== false) providers.push(new DockerConfigCredentials(dockerConfig ?? undefined));

  const insecure = new Set(options.insecureRegistries ?? []);
  const credentials = new ChainCredentials(providers);
  const registry = (host: string): ResolvedRegistry => {
    const settings: RegistrySettings = config.registries[host] ?? {};
    return {
      insecure: insecure.has(host) || settings.insecure === true,
      ca: settings.ca ? readFileSync(settings.ca, 'utf8') : undefined,
      mirrors: settings.mirrors ?? [],
    };
  };
  return {
    config,
    limits,
    credentials,
    registry,
    client(host, extra = {}) {
      const settings = registry(host);
      return new RegistryClient(host, { credentials, insecure: settings.insecure, ca: settings.ca, userAgent: `imggate/${VERSION}`, ...extra });
    },
  };
}

function envCredentials(env: NodeJS.ProcessEnv): { username: string; password: string } | undefined {
  const username = env['IMGGATE_USERNAME'];
  const password = env['IMGGATE_PASSWORD'];
  return username && password !== undefined ? { username, password } : undefined;
}

function registryHostOf(reference: string): string | undefined {
  if (/^(oci|oci-archive|docker-archive):/.test(reference)) return undefined;
  try {
    return parseReference(reference.replace(/^docker:\/\//, '')).registry;
  } catch {
    return undefined;
  }
}
