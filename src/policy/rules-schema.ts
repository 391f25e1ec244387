import { z } from 'zod';
import { SEVERITIES, type Severity } from '../report/types.js';

const severity = z.enum(SEVERITIES as unknown as [Severity, ...Severity[]]);

/** What the policy says of one rule or one check. */
const ruleSetting = z.strictObject({
  severity: severity.optional(),
  block: z.boolean().optional(),
});

const dateString = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');

export const exceptionSchema = z
  .strictObject({
    /** The rule it waives (e.g. aws-access-key-id), or a check (e.g. setuid); one of them. */
    rule: z.string().optional(),
    check: z.string().optional(),
    /** Image path glob the finding must be at. */
    path: z.string().optional(),
    fingerprint: z.string().regex(/^sha256:[a-f0-9]{64}$/, 'sha256:<64 hex>').optional(),
    /** Image reference glob (`registry/repository`), default every image. */
    scope: z.string().optional(),
    reason: z.string().min(10, 'say why, in a sentence'),
    expires: dateString,
  })
  .refine((e) => e.rule !== undefined || e.check !== undefined, { message: 'an exception names a rule or a check' });
export type PolicyException = z.infer<typeof exceptionSchema>;

const policyBody = {
  /** Findings at or above this severity block, unless a rule or check setting says otherwise. */
  blockAt: severity.optional(),
  checks: z.record(z.string(), ruleSetting).optional(),
  rules: z.record(z.string(), ruleSetting).optional(),
};

export const policySchema = z.strictObject({
  version: z.literal(1),
  ...policyBody,
  scopes: z
    .array(
      z.strictObject({
        /** Image reference glob: `registry/repository`, e.g. `registry.example.com/sandbox/**`. */
        match: z.string().min(1),
        ...policyBody,
      }),
    )
    .optional(),
  exceptions: z.array(exceptionSchema).optional(),
});
export type PolicyFile = z.infer<typeof policySchema>;

const idSchema = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes');

export const secretRuleSchema = z.strictObject({
  id: idSchema,
  title: z.string().min(3),
  severity,
  /** Cheap literal prefilter: the rule's pattern is tried only on text containing one of these (case-insensitive). */
  keywords: z.array(z.string().min(2)).min(1),
  /** A JavaScript regular expression; group `secret` (or group 1, or the whole match) is the secret. */
  pattern: z.string().min(1),
  flags: z.string().regex(/^[imsu]*$/, 'only i, m, s and u').optional(),
  /** Minimum Shannon entropy (bits per character) of the secret. */
  entropy: z.number().min(0).max(8).optional(),
  /** Known example values (documentation keys) that never fire. */
  allow: z.array(z.string()).optional(),
  /** Secrets matching any of these (case-insensitively) never fire: placeholders such as ${VAR}. */
  allowPatterns: z.array(z.string()).optional(),
  description: z.string().optional(),
  examples: z.strictObject({
    positive: z.array(z.string()).min(1, 'give at least one text the rule must find'),
    negative: z.array(z.string()).min(1, 'give at least one text the rule must not find'),
  }),
});
export type SecretRuleSpec = z.infer<typeof secretRuleSchema>;

export const fileRuleSchema = z.strictObject({
  id: idSchema,
  title: z.string().min(3),
  severity,
  /** Base names (exact) whose presence is itself a credential. */
  names: z.array(z.string().min(1)).min(1),
  description: z.string().optional(),
});
export type FileRuleSpec = z.infer<typeof fileRuleSchema>;

export const secretsFileSchema = z.strictObject({
  version: z.literal(1),
  rules: z.array(secretRuleSchema).optional(),
  files: z.array(fileRuleSchema).optional(),
  /** Image path globs never scanned for secrets, each with its reason. */
  skipPaths: z.array(z.strictObject({ glob: z.string().min(1), reason: z.string().min(5) })).optional(),
});
export type SecretsFile = z.infer<typeof secretsFileSchema>;

export const eolSchema = z.strictObject({
  version: z.literal(1),
  distros: z.array(
    z.strictObject({
      /** os-release ID. */
      id: z.string().min(1),
      releases: z.array(
        z.strictObject({
          /** os-release VERSION_ID, or its major (Debian) or major.minor (Alpine) part. */
          version: z.string().min(1),
          codename: z.string().optional(),
          security: dateString.optional(),
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
      id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
      check: z.string().min(1),
      title: z.string().min(3),
      severity: z.enum(['critical', 'high', 'medium', 'low', 'info']),
      description: z.string().optional(),
    }),
  ),
});
export type ChecksFile = z.infer<typeof checksFileSchema>;
