import * as z from '../zod.js';
import { SEVERITIES, type Severity } from '../report/types.js';

const severity = z.enum(SEVERITIES as unknown as [Severity, ...Severity[]]);

/** What the policy says of one rule or one check. */
const ruleSetting = z.strictObject({
  severity: z.optional(severity),
  block: z.optional(z.boolean()),
});

const dateString = z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD'));

export const exceptionSchema = z
  .strictObject({
    /** The rule it waives (e.g. aws-access-key-id), or a check (e.g. setuid); one of them. */
    rule: z.optional(z.string()),
    check: z.optional(z.string()),
    /** Image path glob the finding must be at. */
    path: z.optional(z.string()),
    fingerprint: z.optional(z.string().check(z.regex(/^sha256:[a-f0-9]{64}$/, 'sha256:<64 hex>'))),
    /** Image reference glob (`registry/repository`), default every image. */
    scope: z.optional(z.string()),
    reason: z.string().check(z.minLength(10, 'say why, in a sentence')),
    expires: dateString,
  }).check(z.refine((e) => e.rule !== undefined || e.check !== undefined, { message: 'an exception names a rule or a check' }));
export type PolicyException = z.infer<typeof exceptionSchema>;

const policyBody = {
  /** Findings at or above this severity block, unless a rule or check setting says otherwise. */
  blockAt: z.optional(severity),
  checks: z.optional(z.record(z.string(), ruleSetting)),
  rules: z.optional(z.record(z.string(), ruleSetting)),
};

export const policySchema = z.strictObject({
  version: z.literal(1),
  ...policyBody,
  scopes: z.optional(
    z.array(
      z.strictObject({
        /** Image reference glob: `registry/repository`, e.g. `registry.example.com/sandbox/**`. */
        match: z.string().check(z.minLength(1)),
        ...policyBody,
      }),
    )),
  exceptions: z.optional(z.array(exceptionSchema)),
});
export type PolicyFile = z.infer<typeof policySchema>;

const idSchema = z.string().check(z.regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes'));

export const secretRuleSchema = z.strictObject({
  id: idSchema,
  title: z.string().check(z.minLength(3)),
  severity,
  /** Cheap literal prefilter: the rule's pattern is tried only on text containing one of these (case-insensitive). */
  keywords: z.array(z.string().check(z.minLength(2))).check(z.minLength(1)),
  /** A JavaScript regular expression; group `secret` (or group 1, or the whole match) is the secret. */
  pattern: z.string().check(z.minLength(1)),
  flags: z.optional(z.string().check(z.regex(/^[imsu]*$/, 'only i, m, s and u'))),
  /** Minimum Shannon entropy (bits per character) of the secret. */
  entropy: z.optional(z.number().check(z.gte(0), z.lte(8))),
  /** Known example values (documentation keys) that never fire. */
  allow: z.optional(z.array(z.string())),
  /** Secrets matching any of these (case-insensitively) never fire: placeholders such as ${VAR}. */
  allowPatterns: z.optional(z.array(z.string())),
  description: z.optional(z.string()),
  examples: z.strictObject({
    positive: z.array(z.string()).check(z.minLength(1, 'give at least one text the rule must find')),
    negative: z.array(z.string()).check(z.minLength(1, 'give at least one text the rule must not find')),
  }),
});
export type SecretRuleSpec = z.infer<typeof secretRuleSchema>;

export const fileRuleSchema = z.strictObject({
  id: idSchema,
  title: z.string().check(z.minLength(3)),
  severity,
  /** Base names (exact) whose presence is itself a credential. */
  names: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
  description: z.optional(z.string()),
});
export type FileRuleSpec = z.infer<typeof fileRuleSchema>;

export const secretsFileSchema = z.strictObject({
  version: z.literal(1),
  rules: z.optional(z.array(secretRuleSchema)),
  files: z.optional(z.array(fileRuleSchema)),
  /** Image path globs never scanned for secrets, each with its reason. */
  skipPaths: z.optional(z.array(z.strictObject({ glob: z.string().check(z.minLength(1)), reason: z.string().check(z.minLength(5)) }))),
});
export type SecretsFile = z.infer<typeof secretsFileSchema>;

export const eolSchema = z.strictObject({
  version: z.literal(1),
  distros: z.array(
    z.strictObject({
      /** os-release ID. */
      id: z.string().check(z.minLength(1)),
      releases: z.array(
        z.strictObject({
          /** os-release VERSION_ID, or its major (Debian) or major.minor (Alpine) part. */
          version: z.string().check(z.minLength(1)),
          codename: z.optional(z.string()),
          security: z.optional(dateString),
          eol: dateString,
        }),
      ),
    }),
  ),
});
export type EolFile = z.infer<typeof eolSchema>;

/** `checks.yaml`: metadata of the rules the built-in checks raise. */
export const checksFileSchema = z.strictObject({
  version: z.literal(1),
  rules: z.array(
    z.strictObject({
      id: z.string().check(z.regex(/^[a-z0-9][a-z0-9-]*$/)),
      check: z.string().check(z.minLength(1)),
      title: z.string().check(z.minLength(3)),
      severity: z.enum(['critical', 'high', 'medium', 'low', 'info']),
      description: z.optional(z.string()),
    }),
  ),
});
export type ChecksFile = z.infer<typeof checksFileSchema>;
