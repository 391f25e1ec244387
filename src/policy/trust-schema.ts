import * as z from '../zod.js';

export const TRUST_LEVELS = ['enforce', 'audit', 'skip'] as const;
export type TrustLevel = (typeof TRUST_LEVELS)[number];

/** Exact or regular-expression match, as cosign's --certificate-identity / --certificate-identity-regexp. */
const matcher = z.union([z.strictObject({ exact: z.string().check(z.minLength(1)) }), z.strictObject({ regexp: z.string().check(z.minLength(1)) })]);

const cosignSigner = z.strictObject({
  /** PEM public key (ECDSA P-256/P-384, Ed25519, RSA), relative to the project root (the rules directory's parent). */
  key: z.string().check(z.minLength(1)),
  /**
   * A trusted_root.json whose transparency logs and TSAs verify the log entries and timestamps a
   * bundle carries (cosign uploads to Rekor by default). Without it they are not checked: the key alone
   * is trusted, as with cosign's --insecure-ignore-tlog.
   */
  trustedRoot: z.optional(z.string().check(z.minLength(1))),
  /**
   * What the simple-signing payload's `docker-reference` must be: the image's repository (default,
   * refuses a signature copied from another repository), or anything.
   */
  dockerReference: z._default(z.enum(['repository', 'any']), 'repository'),
});

const keylessSigner = z.strictObject({
  /** A Sigstore trusted_root.json (Fulcio CAs, Rekor keys, TSAs), read offline. */
  trustedRoot: z.string().check(z.minLength(1)),
  identity: matcher,
  issuer: matcher,
});

const notationSigner = z.strictObject({
  /** Directories (or files) of PEM CA certificates: a Notation trust store (`x509/ca/<name>`). */
  trustStores: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
  /** `x509.subject: C=…, O=…, CN=…` lines, as in Notation's trustedIdentities; `*` for any. */
  trustedIdentities: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
});

export const signerSchema = z.union([
  z.strictObject({ cosign: cosignSigner }),
  z.strictObject({ keyless: keylessSigner }),
  z.strictObject({ notation: notationSigner }),
]);
export type SignerSpec = z.infer<typeof signerSchema>;

export const trustScopeSchema = z.strictObject({
  /** Image reference globs (`registry/repository`; `*` within a segment, `**` across). */
  match: z.union([z.string().check(z.minLength(1)), z.array(z.string().check(z.minLength(1))).check(z.minLength(1))]),
  level: z.enum(TRUST_LEVELS),
  /** Names under `signers`; any of them, or `threshold` distinct ones, must have signed the digest. */
  signers: z._default(z.array(z.string().check(z.minLength(1))), []),
  threshold: z._default(z.number().check(z.int(), z.gte(1)), 1),
});
export type TrustScopeSpec = z.infer<typeof trustScopeSchema>;

export const trustFileSchema = z
  .strictObject({
    version: z.literal(1),
    signers: z._default(z.record(z.string().check(z.regex(/^[a-z0-9][a-z0-9._-]*$/)), signerSchema), {}),
    /** First match wins; then the scopes of Notation's trustpolicy.json; then `default`. */
    scopes: z._default(z.array(trustScopeSchema), []),
    default: z._default(z.strictObject({ level: z.enum(TRUST_LEVELS) }), { level: 'skip' }),
    notation: z.optional(
      z.strictObject({
        /** A Notation trustpolicy.json, read unchanged. */
        trustPolicy: z.string().check(z.minLength(1)),
        /** The Notation trust store root (`…/truststore`): `ca:NAME` means `x509/ca/NAME` under it. */
        trustStoreDir: z.string().check(z.minLength(1)),
      })),
  }).check(z.superRefine((file, ctx) => {
    for (const [i, scope] of file.scopes.entries()) {
      for (const name of scope.signers) {
        if (!(name in file.signers)) ctx.addIssue({ code: 'custom', path: ['scopes', i, 'signers'], message: `no signer named "${name}"` });
      }
      if (scope.level !== 'skip' && scope.signers.length === 0) ctx.addIssue({ code: 'custom', path: ['scopes', i, 'signers'], message: 'a scope that verifies names its signers' });
      if (scope.threshold > Math.max(1, scope.signers.length)) {
        ctx.addIssue({ code: 'custom', path: ['scopes', i, 'threshold'], message: `threshold ${scope.threshold} exceeds the ${scope.signers.length} signers named` });
      }
    }
  }));
export type TrustFile = z.infer<typeof trustFileSchema>;

/** Notation's trustpolicy.json, version 1.0 (notaryproject specification, trust-store-trust-policy.md). */
export const notationPolicySchema = z.object({
  version: z.literal('1.0'),
  trustPolicies: z
    .array(
      z.object({
        name: z.string().check(z.minLength(1)),
        registryScopes: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
        signatureVerification: z.object({ level: z.enum(['strict', 'permissive', 'audit', 'skip']), override: z.optional(z.record(z.string(), z.string())) }),
        trustStores: z.optional(z.array(z.string().check(z.regex(/^(ca|signingAuthority|tsa):[A-Za-z0-9_.-]+$/)))),
        trustedIdentities: z.optional(z.array(z.string().check(z.minLength(1)))),
      }),
    ).check(z.minLength(1)),
});
export type NotationPolicy = z.infer<typeof notationPolicySchema>;
