import * as z from '../zod.js';
import { isDigest } from './digest.js';
import { MediaType } from './media-types.js';

const digest = z.string().check(z.refine(isDigest, { message: 'not a valid sha256/sha512 digest' }));
const annotations = z.record(z.string(), z.string());

export const platformSchema = z.object({
  architecture: z.string().check(z.minLength(1)),
  os: z.string().check(z.minLength(1)),
  'os.version': z.optional(z.string()),
  'os.features': z.optional(z.array(z.string())),
  variant: z.optional(z.string()),
});
export type PlatformSpec = z.infer<typeof platformSchema>;

export const descriptorSchema = z.object({
  mediaType: z.string().check(z.minLength(1)),
  digest,
  size: z.number().check(z.int(), z.nonnegative()),
  urls: z.optional(z.array(z.string())),
  annotations: z.optional(annotations),
  platform: z.optional(platformSchema),
  artifactType: z.optional(z.string()),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

export const imageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.optional(z.string()),
  artifactType: z.optional(z.string()),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: z.optional(descriptorSchema),
  annotations: z.optional(annotations),
});
export type ImageManifest = z.infer<typeof imageManifestSchema>;

export const imageIndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.optional(z.string()),
  artifactType: z.optional(z.string()),
  manifests: z.array(descriptorSchema),
  subject: z.optional(descriptorSchema),
  annotations: z.optional(annotations),
});
export type ImageIndex = z.infer<typeof imageIndexSchema>;

// Fields no schema names are kept (looseObject): the secret scan reads every string a config holds.
const historySchema = z.looseObject({
  created: z.optional(z.string()),
  created_by: z.optional(z.string()),
  author: z.optional(z.string()),
  comment: z.optional(z.string()),
  empty_layer: z.optional(z.boolean()),
});

const healthcheckSchema = z.looseObject({ Test: z.nullish(z.array(z.string())) });

export const imageConfigSchema = z.looseObject({
  architecture: z.optional(z.string()),
  os: z.optional(z.string()),
  variant: z.optional(z.string()),
  created: z.optional(z.string()),
  config: z.nullish(z.looseObject({
    User: z.nullish(z.string()),
    Env: z.nullish(z.array(z.string())),
    Entrypoint: z.nullish(z.array(z.string())),
    Cmd: z.nullish(z.array(z.string())),
    WorkingDir: z.nullish(z.string()),
    Labels: z.nullish(z.record(z.string(), z.string())),
    ExposedPorts: z.nullish(z.record(z.string(), z.unknown())),
    Volumes: z.nullish(z.record(z.string(), z.unknown())),
    StopSignal: z.nullish(z.string()),
    Healthcheck: z.nullish(healthcheckSchema),
  })),
  rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(digest) }),
  history: z.nullish(z.array(historySchema)),
});
export type ImageConfig = z.infer<typeof imageConfigSchema>;

export type ParsedManifest =
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; index: ImageIndex };

const MANIFEST_TYPES = new Set<string>([MediaType.ociManifest, MediaType.dockerManifest]);
const INDEX_TYPES = new Set<string>([MediaType.ociIndex, MediaType.dockerManifestList]);

/** How many distinct problems a validation message lists before it says how many more there are. */
export const MAX_LISTED_ISSUES = 10;

function clipText(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Zod issues as `field.path: problem` strings, bounded: the same problem at every index of an array
 * is said once, with a count (`layers.0.digest: … (and at 99999 more places)`), at most `max` distinct
 * problems are listed and then "and K more". A 4 MB manifest of bad descriptors made a 129 MB message
 * when every issue was listed.
 */
export function describeIssues(error: z.core.$ZodError, max = MAX_LISTED_ISSUES): string[] {
  const distinct = new Map<string, { text: string; count: number }>();
  let dropped = 0;
  for (const issue of error.issues) {
    // Indexes vary, the problem does not: `layers.*.digest` is one problem however many layers have it.
    const shape = issue.path.map((p) => (typeof p === 'number' ? '*' : String(p))).join('.');
    const key = `${shape}\u0000${issue.message}`;
    const seen = distinct.get(key);
    if (seen) {
      seen.count++;
      continue;
    }
    if (distinct.size >= max) {
      dropped++;
      continue;
    }
    const where = issue.path.length ? clipText(issue.path.map(String).join('.'), 200) : '(root)';
    distinct.set(key, { text: `${where}: ${clipText(issue.message, 300)}`, count: 1 });
  }
  const lines = [...distinct.values()].map(({ text, count }) => (count > 1 ? `${text} (and at ${count - 1} more places)` : text));
  if (dropped > 0) lines.push(`and ${dropped} more problem${dropped === 1 ? '' : 's'}`);
  return lines;
}
export { MANIFEST_TYPES, INDEX_TYPES };
