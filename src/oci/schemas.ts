import { z } from 'zod';
import { isDigest } from './digest.js';
import { MediaType } from './media-types.js';

const digest = z.string().refine(isDigest, { message: 'not a valid sha256/sha512 digest' });
const annotations = z.record(z.string(), z.string());

export const platformSchema = z.object({
  architecture: z.string().min(1),
  os: z.string().min(1),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
});
export type PlatformSpec = z.infer<typeof platformSchema>;

export const descriptorSchema = z.object({
  mediaType: z.string().min(1),
  digest,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: annotations.optional(),
  platform: platformSchema.optional(),
  artifactType: z.string().optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

export const imageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotations.optional(),
});
export type ImageManifest = z.infer<typeof imageManifestSchema>;

export const imageIndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotations.optional(),
});
export type ImageIndex = z.infer<typeof imageIndexSchema>;

const historySchema = z.object({
  created: z.string().optional(),
  created_by: z.string().optional(),
  author: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});

const healthcheckSchema = z.object({ Test: z.array(z.string()).nullish() }).loose();

export const imageConfigSchema = z.object({
  architecture: z.string().optional(),
  os: z.string().optional(),
  variant: z.string().optional(),
  created: z.string().optional(),
  config: z
    .object({
      User: z.string().nullish(),
      Env: z.array(z.string()).nullish(),
      Entrypoint: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
      WorkingDir: z.string().nullish(),
      Labels: z.record(z.string(), z.string()).nullish(),
      ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
      Volumes: z.record(z.string(), z.unknown()).nullish(),
      StopSignal: z.string().nullish(),
      Healthcheck: healthcheckSchema.nullish(),
    })
    .loose()
    .nullish(),
  rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(digest) }),
  history: z.array(historySchema).nullish(),
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
export function describeIssues(error: z.ZodError, max = MAX_LISTED_ISSUES): string[] {
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
