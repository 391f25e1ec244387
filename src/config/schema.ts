import os from 'node:os';
import path from 'node:path';
import * as z from '../zod.js';
import { parseDuration, parseSize } from './units.js';

/** A file path; `~/` means the user's home, as in a shell. */
const filePath = z.pipe(
  z.string().check(z.minLength(1)), z.transform((p) => (p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p)));

/** A string or number read by `parse`; what it cannot read is an issue saying what was expected. */
const unit = (parse: (value: string | number) => number | undefined, expected: string) =>
  z.pipe(
    z.union([z.string(), z.number()]),
    z.transform((value: string | number, ctx) => {
      const parsed = parse(value);
      if (parsed === undefined) {
        ctx.issues.push({ code: 'custom', message: `"${value}" is not ${expected}`, input: value });
        return z.NEVER;
      }
      return parsed;
    }),
  );

const size = unit(parseSize, 'a size (e.g. 512MiB, 4GB, 1048576)');
const duration = unit(parseDuration, 'a duration (e.g. 90s, 15m, 1h)');

/** A cap on how many of something an image may hold. */
const count = z.number().check(z.int(), z.gte(1), z.lte(1_000_000));
/** Counts of filesystem entries, which real images hold hundreds of thousands of. */
const entryCount = z.number().check(z.int(), z.gte(1), z.lte(100_000_000));

const credentials = z.strictObject({
  username: z.string().check(z.minLength(1)),
  password: z.optional(z.string()),
  /** Name of an environment variable holding the password, so the file needs no secret. */
  passwordEnv: z.optional(z.string()),
});

const registry = z.strictObject({
  insecure: z.optional(z.boolean()),
  ca: z.optional(filePath),
  mirrors: z.optional(z.array(z.string().check(z.minLength(1)))),
  credentials: z.optional(credentials),
});

/**
 * A secret the service checks: given inline (tests, throwaway setups) or, better, named by the
 * environment variable that holds it, so the file carries none.
 */
const secret = z.union([z.strictObject({ value: z.string().check(z.minLength(16)) }), z.strictObject({ env: z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/)) })]);

/** How a receiver authenticates its sender. */
const receiverAuth = z.discriminatedUnion('kind', [
  /** A static token in `Authorization` (`Bearer T` or `T`): what distribution and Harbor send. */
  z.strictObject({ kind: z.literal('token'), token: secret }),
  /** The Standard Webhooks scheme: HMAC-SHA256 over id, timestamp and the raw body (`whsec_…` secret). */
  z.strictObject({ kind: z.literal('standard-webhooks'), secret, tolerance: z.optional(duration) }),
  /** A secret in the URL path (`/hooks/<name>/<secret>`), for senders that can neither sign nor send headers. */
  z.strictObject({ kind: z.literal('path'), secret }),
]);

const receiver = z.strictObject({
  /** Which payload format it reads (`distribution`, `harbor`, `dockerhub`, `quay`, `generic`). */
  type: z.enum(['distribution', 'harbor', 'dockerhub', 'quay', 'generic']),
  auth: receiverAuth,
  /** The registry host tag-only senders (Docker Hub, Quay) mean; it must be allowlisted too. */
  registry: z.optional(z.string().check(z.minLength(1))),
});

/** `imggate serve`: the webhook receivers, the API and the workers. */
const serve = z.prefault(
  z.strictObject({
    /** `host:port` to listen on; default 127.0.0.1:8080 (put a TLS proxy in front for anything else). */
    listen: z._default(z.string().check(z.regex(/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, 'must be host:port')), '127.0.0.1:8080'),
    /** Receivers by name: each is served at `/hooks/<name>`. */
    receivers: z._default(z.record(z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and -')), receiver), {}),
    /** API tokens for /v1: `read` lists and reads, `write` also asks for checks and retries. */
    apiTokens: z._default(z.array(z.strictObject({ name: z.string().check(z.minLength(1)), token: secret, scopes: z.array(z.enum(['read', 'write'])).check(z.minLength(1)) })), []),
    /** The registries the service may contact, besides those under `registries:`; any other host is refused. */
    allowRegistries: z._default(z.array(z.string().check(z.minLength(1))), []),
    /** Checks running at once, each in its own process. */
    concurrency: z._default(z.number().check(z.int(), z.gte(1), z.lte(64)), 2),
    /** The longest a check may run before it is killed and recorded as an error. */
    checkTimeout: z._default(duration, 30 * 60_000),
    lease: z._default(duration, 60_000),
    maxAttempts: z._default(z.number().check(z.int(), z.gte(1), z.lte(100)), 3),
    backoff: z._default(duration, 10_000),
    backoffMax: z._default(duration, 10 * 60_000),
    /** Largest webhook or API body accepted (413 above it). */
    bodyLimit: z._default(size, 1024 * 1024),
    /** How long SIGTERM waits for running checks before it releases their jobs. */
    drainTimeout: z._default(duration, 30_000),
    /** Re-checking known images when the rules or the feed snapshots change. */
    rescan: z.prefault(
      z.strictObject({
        /** How often the service looks whether the feed snapshots changed (default 1 minute). */
        interval: z._default(duration, 60_000),
        /** Run `imggate feeds update` inside the service this often (absent: only updates made elsewhere are noticed). */
        feedsUpdate: z.optional(duration),
        /** false: never rescan; verdicts are only made for pushes and requests. */
        enabled: z._default(z.boolean(), true),
      }), {}),
    /**
     * Lists the watched repositories every interval, so an image whose notification was lost (the
     * registry restarted) is still checked, and a deleted one is known to be gone. Absent: no listing.
     */
    reconcile: z.optional(
      z.strictObject({
        /** `registry/repository`, or a glob over the registry's catalog: `registry/team/*`, `registry/**`. */
        repositories: z.array(z.string().check(z.minLength(3), z.maxLength(512))).check(z.minLength(1)),
        interval: z._default(duration, 5 * 60_000),
      })),
  }), {});

export const configSchema = z.strictObject({
  registries: z._default(z.record(z.string(), registry), {}),
  credentials: z._default(
    z.strictObject({ dockerConfig: z.optional(z.union([filePath, z.literal(false)])) }), {}),
  store: z._default(
    z.strictObject({
      dir: z.optional(filePath),
      /**
       * `postgres://user@host:port/database`: verdicts, the service's queue and the layer cache in
       * PostgreSQL, shared by every gate process, instead of the embedded file in `dir`. The password
       * is better left out of the file: libpq's $PGPASSWORD and ~/.pgpass are read. Never printed.
       */
      database: z.optional(
        z.string().check(z.refine((u) => /^postgres(?:ql)?:\/\/[^/?#]/i.test(u) && URL.canParse(u), 'must be a postgres:// URL'))),
      /** Keep each layer's facts by diffID, so a layer seen before is not fetched again (default true). */
      scanCache: z.optional(z.boolean()),
      /** Bytes the layer cache may hold; least recently used rows go first (default 512 MiB). */
      scanCacheMaxBytes: z.optional(size),
    }), {}),
  /** Signed verdicts: the gate's key, and where the statements say they come from. */
  attest: z._default(
    z.strictObject({
      /** PEM ECDSA P-256 private key; default `keys/gate.key` when it exists. Its password: $IMGGATE_KEY_PASSWORD. */
      key: z.optional(filePath),
      /** Push the signed verdict next to a registry image as an OCI referrer (default true). */
      push: z.optional(z.boolean()),
      /** The VSA's verifier.id: a URI naming this gate. */
      verifierId: z.optional(z.string().check(z.minLength(1))),
      /** The VSA's policy.uri; default the rules directory as a file: URI. */
      policyUri: z.optional(z.string().check(z.minLength(1))),
      /** A Rekor transparency log to record each signed verdict in; unset (the default) signs offline. */
      rekorUrl: z.optional(z.url()),
    }), {}),
  rules: z._default(z.strictObject({ dir: z.optional(filePath) }), {}),
  feeds: z._default(
    z.strictObject({
      osv: z.optional(z.array(filePath)),
      /** Debian-style archives: no host is built in; the user names the mirror. */
      debian: z.optional(
        z.array(
          z.strictObject({
            mirror: z.url(),
            /** Where `<codename>-security` lives, if not on the same mirror (as with security.debian.org). */
            securityMirror: z.optional(z.url()),
            codename: z.string().check(z.regex(/^[a-z][a-z0-9-]*$/)),
            components: z._default(z.array(z.string()), ['main']),
            architectures: z._default(z.array(z.string()), ['amd64']),
            /** An OpenPGP keyring (e.g. debian-archive-keyring.gpg) to verify InRelease with gpgv; without it nothing is verified. */
            keyring: z.optional(filePath),
          }),
        )),
      /** Alpine repositories: `<mirror>/<branch>/<repository>/<arch>/APKINDEX.tar.gz`. */
      alpine: z.optional(
        z.array(
          z.strictObject({
            mirror: z.url(),
            branch: z.string().check(z.regex(/^v\d+\.\d+$|^edge$/)),
            repositories: z._default(z.array(z.string()), ['main', 'community']),
            architectures: z._default(z.array(z.string()), ['x86_64']),
            /** A directory of signing keys (`/etc/apk/keys`); without it nothing is verified. */
            keys: z.optional(filePath),
          }),
        )),
      /** A feed snapshot older than this is refreshed by the check (or, offline, makes it inconclusive unless the policy waives `stale-feed`). */
      maxAge: z.optional(duration),
      /** Refresh missing or stale snapshots during a check (default true); false for air-gapped use, like --offline. */
      autoUpdate: z.optional(z.boolean()),
      /**
       * Where an image's release is looked up when imggate.yaml names no feed for it: the host's own
       * package sources (apt's sources.list, sources.list.d/*.list and *.sources; apk's repositories).
       * false: only configured feeds.
       */
      hostSources: z.optional(
        z.union([
          z.literal(false),
          z.strictObject({
            /** apt's configuration directory (default /etc/apt). */
            apt: z.optional(filePath),
            /** apk's repositories file (default /etc/apk/repositories). */
            apkRepositories: z.optional(filePath),
            /** apk's signing keys (default /etc/apk/keys). */
            apkKeys: z.optional(filePath),
            /** The host's os-release (default /etc/os-release, then /usr/lib/os-release): which distribution its sources are for. */
            osRelease: z.optional(filePath),
          }),
        ])),
    }), {}),
  limits: z._default(
    z.strictObject({
      maxLayerBytes: z.optional(size),
      maxUncompressedLayerBytes: z.optional(size),
      maxTotalBytes: z.optional(size),
      maxFileBytes: z.optional(size),
      timeout: z.optional(duration),
      concurrency: z.optional(z.number().check(z.int(), z.gte(1), z.lte(16))),
      /** Total deadline of one registry request, headers and body (a blob's grows with its size). */
      requestTimeout: z.optional(duration),
      /** The slowest a blob may download, per second: a blob's deadline is requestTimeout + size / this. */
      minTransferRate: z.optional(size),
      maxLayers: z.optional(count),
      maxPlatforms: z.optional(count),
      maxHistory: z.optional(count),
      maxEnv: z.optional(count),
      maxLabels: z.optional(count),
      /** JavaScript heap of one CLI check's thread. */
      maxHeap: z.optional(size),
      /** Entries one directory of the image may hold, over all layers. */
      maxDirectoryEntries: z.optional(entryCount),
      /** Components in one path of a layer. */
      maxPathDepth: z.optional(count),
      /** Entries over all layers of one image. */
      maxEntries: z.optional(entryCount),
      /** Bytes one archive in the image (a jar with the jars inside it) may inflate to. */
      maxArchiveInflate: z.optional(size),
    }), {}),
  serve,
});

export type ConfigFile = z.infer<typeof configSchema>;
export type RegistrySettings = z.infer<typeof registry>;
export type ServeSettings = z.infer<typeof serve>;
export type ReceiverSettings = z.infer<typeof receiver>;
export type SecretSetting = z.infer<typeof secret>;
