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

export const configSchema = z.strictObject({
  registries: z.record(z.string(), registry).default({}),
  credentials: z
    .strictObject({ dockerConfig: z.union([filePath, z.literal(false)]).optional() })
    .default({}),
  store: z.strictObject({ dir: filePath.optional() }).default({}),
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
    })
    .default({}),
});

export type ConfigFile = z.infer<typeof configSchema>;
export type RegistrySettings = z.infer<typeof registry>;
