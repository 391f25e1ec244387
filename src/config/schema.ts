import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

/** A file path; `~/` means the user's home, as in a shell. */
const filePath = z
  .string()
  .min(1)
  .transform((p) => (p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p));

const size = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const parsed = parseSize(value);
  if (parsed === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a size (e.g. 512MiB, 4GB, 1048576)` });
    return z.NEVER;
  }
  return parsed;
});

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const parsed = parseDuration(value);
  if (parsed === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (e.g. 90s, 15m, 1h)` });
    return z.NEVER;
  }
  return parsed;
});

/** A cap on how many of something an image may hold. */
const count = z.number().int().min(1).max(1_000_000);
/** Counts of filesystem entries, which real images hold hundreds of thousands of. */
const entryCount = z.number().int().min(1).max(100_000_000);

const credentials = z.strictObject({
  username: z.string().min(1),
  password: z.string().optional(),
  /** Name of an environment variable holding the password, so the file needs no secret. */
  passwordEnv: z.string().optional(),
});

const registry = z.strictObject({
  insecure: z.boolean().optional(),
  ca: filePath.optional(),
  mirrors: z.array(z.string().min(1)).optional(),
  credentials: credentials.optional(),
});

/**
 * A secret the service checks: given inline (tests, throwaway setups) or, better, named by the
 * environment variable that holds it, so the file carries none.
 */
const secret = z.union([z.strictObject({ value: z.string().min(16) }), z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) })]);

/** How a receiver authenticates its sender. */
const receiverAuth = z.discriminatedUnion('kind', [
  /** A static token in `Authorization` (`Bearer T` or `T`): what distribution and Harbor send. */
  z.strictObject({ kind: z.literal('token'), token: secret }),
  /** The Standard Webhooks scheme: HMAC-SHA256 over id, timestamp and the raw body (`whsec_…` secret). */
  z.strictObject({ kind: z.literal('standard-webhooks'), secret, tolerance: duration.optional() }),
  /** A secret in the URL path (`/hooks/<name>/<secret>`), for senders that can neither sign nor send headers. */
  z.strictObject({ kind: z.literal('path'), secret }),
]);

const receiver = z.strictObject({
  /** Which payload format it reads (`distribution`, `harbor`, `dockerhub`, `quay`, `generic`). */
  type: z.enum(['distribution', 'harbor', 'dockerhub', 'quay', 'generic']),
  auth: receiverAuth,
  /** The registry host tag-only senders (Docker Hub, Quay) mean; it must be allowlisted too. */
  registry: z.string().min(1).optional(),
});

/** `imggate serve`: the webhook receivers, the API and the workers. */
const serve = z
  .strictObject({
    /** `host:port` to listen on; default 127.0.0.1:8080 (put a TLS proxy in front for anything else). */
    listen: z.string().regex(/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, 'must be host:port').default('127.0.0.1:8080'),
    /** Receivers by name: each is served at `/hooks/<name>`. */
    receivers: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and -'), receiver).default({}),
    /** API tokens for /v1: `read` lists and reads, `write` also asks for checks and retries. */
    apiTokens: z.array(z.strictObject({ name: z.string().min(1), token: secret, scopes: z.array(z.enum(['read', 'write'])).min(1) })).default([]),
    /** The registries the service may contact, besides those under `registries:`; any other host is refused. */
    allowRegistries: z.array(z.string().min(1)).default([]),
    /** Checks running at once, each in its own process. */
    concurrency: z.number().int().min(1).max(64).default(2),
    /** The longest a check may run before it is killed and recorded as an error. */
    checkTimeout: duration.default(30 * 60_000),
    lease: duration.default(60_000),
    maxAttempts: z.number().int().min(1).max(100).default(3),
    backoff: duration.default(10_000),
    backoffMax: duration.default(10 * 60_000),
    /** Largest webhook or API body accepted (413 above it). */
    bodyLimit: size.default(1024 * 1024),
    /** How long SIGTERM waits for running checks before it releases their jobs. */
    drainTimeout: duration.default(30_000),
    /** Re-checking known images when the rules or the feed snapshots change. */
    rescan: z
      .strictObject({
        /** How often the service looks whether the feed snapshots changed (default 1 minute). */
        interval: duration.default(60_000),
        /** Run `imggate feeds update` inside the service this often (absent: only updates made elsewhere are noticed). */
        feedsUpdate: duration.optional(),
        /** false: never rescan; verdicts are only made for pushes and requests. */
        enabled: z.boolean().default(true),
      })
      .prefault({}),
    /**
     * Lists the watched repositories every interval, so an image whose notification was lost (the
     * registry restarted) is still checked, and a deleted one is known to be gone. Absent: no listing.
     */
    reconcile: z
      .strictObject({
        /** `registry/repository`, or a glob over the registry's catalog: `registry/team/*`, `registry/**`. */
        repositories: z.array(z.string().min(3).max(512)).min(1),
        interval: duration.default(5 * 60_000),
      })
      .optional(),
  })
  // prefault: an absent section is parsed as {} so every default above applies.
  .prefault({});

export const configSchema = z.strictObject({
  registries: z.record(z.string(), registry).default({}),
  credentials: z
    .strictObject({ dockerConfig: z.union([filePath, z.literal(false)]).optional() })
    .default({}),
  store: z
    .strictObject({
      dir: filePath.optional(),
      /**
       * `postgres://user@host:port/database`: verdicts, the service's queue and the layer cache in
       * PostgreSQL, shared by every gate process, instead of the embedded file in `dir`. The password
       * is better left out of the file: libpq's $PGPASSWORD and ~/.pgpass are read. Never printed.
       */
      database: z
        .string()
        // The message never repeats the value: it may hold a password.
        .refine((u) => /^postgres(?:ql)?:\/\/[^/?#]/i.test(u) && URL.canParse(u), 'must be a postgres:// URL')
        .optional(),
      /** Keep each layer's facts by diffID, so a layer seen before is not fetched again (default true). */
      scanCache: z.boolean().optional(),
      /** Bytes the layer cache may hold; least recently used rows go first (default 512 MiB). */
      scanCacheMaxBytes: size.optional(),
    })
    .default({}),
  /** Signed verdicts: the gate's key, and where the statements say they come from. */
  attest: z
    .strictObject({
      /** PEM ECDSA P-256 private key; default `keys/gate.key` when it exists. Its password: $IMGGATE_KEY_PASSWORD. */
      key: filePath.optional(),
      /** Push the signed verdict next to a registry image as an OCI referrer (default true). */
      push: z.boolean().optional(),
      /** The VSA's verifier.id: a URI naming this gate. */
      verifierId: z.string().min(1).optional(),
      /** The VSA's policy.uri; default the rules directory as a file: URI. */
      policyUri: z.string().min(1).optional(),
      /** A Rekor transparency log to record each signed verdict in; unset (the default) signs offline. */
      rekorUrl: z.url().optional(),
    })
    .default({}),
  rules: z.strictObject({ dir: filePath.optional() }).default({}),
  feeds: z
    .strictObject({
      osv: z.array(filePath).optional(),
      /** Debian-style archives: no host is built in; the user names the mirror. */
      debian: z
        .array(
          z.strictObject({
            mirror: z.url(),
            /** Where `<codename>-security` lives, if not on the same mirror (as with security.debian.org). */
            securityMirror: z.url().optional(),
            codename: z.string().regex(/^[a-z][a-z0-9-]*$/),
            components: z.array(z.string()).default(['main']),
            architectures: z.array(z.string()).default(['amd64']),
            /** An OpenPGP keyring (e.g. debian-archive-keyring.gpg) to verify InRelease with gpgv; without it nothing is verified. */
            keyring: filePath.optional(),
          }),
        )
        .optional(),
      /** Alpine repositories: `<mirror>/<branch>/<repository>/<arch>/APKINDEX.tar.gz`. */
      alpine: z
        .array(
          z.strictObject({
            mirror: z.url(),
            branch: z.string().regex(/^v\d+\.\d+$|^edge$/),
            repositories: z.array(z.string()).default(['main', 'community']),
            architectures: z.array(z.string()).default(['x86_64']),
            /** A directory of signing keys (`/etc/apk/keys`); without it nothing is verified. */
            keys: filePath.optional(),
          }),
        )
        .optional(),
      /** A feed snapshot older than this is refreshed by the check (or, offline, makes it inconclusive unless the policy waives `stale-feed`). */
      maxAge: duration.optional(),
      /** Refresh missing or stale snapshots during a check (default true); false for air-gapped use, like --offline. */
      autoUpdate: z.boolean().optional(),
      /**
       * Where an image's release is looked up when imggate.yaml names no feed for it: the host's own
       * package sources (apt's sources.list, sources.list.d/*.list and *.sources; apk's repositories).
       * false: only configured feeds.
       */
      hostSources: z
        .union([
          z.literal(false),
          z.strictObject({
            /** apt's configuration directory (default /etc/apt). */
            apt: filePath.optional(),
            /** apk's repositories file (default /etc/apk/repositories). */
            apkRepositories: filePath.optional(),
            /** apk's signing keys (default /etc/apk/keys). */
            apkKeys: filePath.optional(),
            /** The host's os-release (default /etc/os-release, then /usr/lib/os-release): which distribution its sources are for. */
            osRelease: filePath.optional(),
          }),
        ])
        .optional(),
    })
    .default({}),
  limits: z
    .strictObject({
      maxLayerBytes: size.optional(),
      maxUncompressedLayerBytes: size.optional(),
      maxTotalBytes: size.optional(),
      maxFileBytes: size.optional(),
      timeout: duration.optional(),
      concurrency: z.number().int().min(1).max(16).optional(),
      /** Total deadline of one registry request, headers and body (a blob's grows with its size). */
      requestTimeout: duration.optional(),
      /** The slowest a blob may download, per second: a blob's deadline is requestTimeout + size / this. */
      minTransferRate: size.optional(),
      maxLayers: count.optional(),
      maxPlatforms: count.optional(),
      maxHistory: count.optional(),
      maxEnv: count.optional(),
      maxLabels: count.optional(),
      /** JavaScript heap of one CLI check's thread. */
      maxHeap: size.optional(),
      /** Entries one directory of the image may hold, over all layers. */
      maxDirectoryEntries: entryCount.optional(),
      /** Components in one path of a layer. */
      maxPathDepth: count.optional(),
      /** Entries over all layers of one image. */
      maxEntries: entryCount.optional(),
      /** Bytes one archive in the image (a jar with the jars inside it) may inflate to. */
      maxArchiveInflate: size.optional(),
    })
    .default({}),
  serve,
});

export type ConfigFile = z.infer<typeof configSchema>;
export type RegistrySettings = z.infer<typeof registry>;
export type ServeSettings = z.infer<typeof serve>;
export type ReceiverSettings = z.infer<typeof receiver>;
export type SecretSetting = z.infer<typeof secret>;
