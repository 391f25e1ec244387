import * as z from '../zod.js';
import { ImggateError } from '../errors.js';
import { parseGoJson } from './go-json.js';
import { MediaType } from './media-types.js';
import {
  describeIssues,
  imageConfigSchema,
  imageIndexSchema,
  imageManifestSchema,
  INDEX_TYPES,
  MANIFEST_TYPES,
  type ImageConfig,
  type ParsedManifest,
} from './schemas.js';

/** The OCI distribution spec's advice, and what imggate enforces: no manifest above 4 MiB. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
/** Descriptors one manifest or index may list before it is refused unread (limits.maxLayers bounds what is checked). */
const MAX_DESCRIPTORS = 10_000;

/** Either document's fields, so keys are matched as Go matches them before the media type is known. */
const manifestOrIndexSchema = z.object({ ...imageIndexSchema.shape, ...imageManifestSchema.shape });

/**
 * Parses a manifest or index. The media type comes from the document itself; the transport's
 * Content-Type is used only when the document has none, and a document that contradicts its
 * Content-Type is refused rather than guessed at.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, what: string): ParsedManifest {
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new ImggateError('MANIFEST_TOO_LARGE', `${what} is ${bytes.length} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`);
  }
  const json = parseGoJson(bytes, manifestOrIndexSchema, what);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ImggateError('MANIFEST_INVALID', `${what} is not a JSON object`);
  }
  const record = json as Record<string, unknown>;
  // Validation of a huge array of bad descriptors costs seconds per 100,000 entries before any limit
  // applies: a manifest that names more descriptors than any image could use is refused unread.
  for (const key of ['layers', 'manifests'] as const) {
    const list = record[key];
    if (Array.isArray(list) && list.length > MAX_DESCRIPTORS) {
      throw new ImggateError('MANIFEST_INVALID', `${what} lists ${list.length} ${key}, more than the ${MAX_DESCRIPTORS} any manifest is read with`);
    }
  }
  const declared = typeof record['mediaType'] === 'string' ? record['mediaType'] : undefined;
  const header = contentType?.split(';')[0]?.trim() || undefined;
  const headerIsManifestType = header !== undefined && (MANIFEST_TYPES.has(header) || INDEX_TYPES.has(header));
  if (declared !== undefined && headerIsManifestType && declared !== header) {
    throw new ImggateError('MANIFEST_INVALID', `${what} declares mediaType ${declared} but was served as ${header}`);
  }
  let mediaType = declared ?? (headerIsManifestType ? header : undefined);
  if (mediaType === undefined) {
    // An OCI manifest may omit mediaType; its shape is then the only evidence.
    if ('manifests' in record && !('layers' in record)) mediaType = MediaType.ociIndex;
    else if ('layers' in record && !('manifests' in record)) mediaType = MediaType.ociManifest;
  }
  if (mediaType === MediaType.dockerManifestV1 || mediaType === MediaType.dockerManifestV1Signed || record['schemaVersion'] === 1) {
    throw new ImggateError('MEDIA_TYPE_UNSUPPORTED', `${what} is a Docker schema 1 manifest, which carries no digests to verify; re-push the image`);
  }
  if (mediaType !== undefined && MANIFEST_TYPES.has(mediaType)) {
    if ('manifests' in record) throw new ImggateError('MANIFEST_INVALID', `${what} is a ${mediaType} but has a "manifests" field`);
    const result = imageManifestSchema.safeParse(json);
    if (!result.success) {
      throw new ImggateError('MANIFEST_INVALID', `${what} is not a valid image manifest: ${describeIssues(result.error).join('; ')}`);
    }
    return { kind: 'manifest', mediaType, manifest: result.data };
  }
  if (mediaType !== undefined && INDEX_TYPES.has(mediaType)) {
    if ('layers' in record) throw new ImggateError('MANIFEST_INVALID', `${what} is a ${mediaType} but has a "layers" field`);
    const result = imageIndexSchema.safeParse(json);
    if (!result.success) {
      throw new ImggateError('MANIFEST_INVALID', `${what} is not a valid image index: ${describeIssues(result.error).join('; ')}`);
    }
    return { kind: 'index', mediaType, index: result.data };
  }
  throw new ImggateError('MEDIA_TYPE_UNSUPPORTED', `${what} has unsupported media type ${mediaType ?? '(none)'}`);
}

export function parseImageConfig(bytes: Uint8Array, what: string): ImageConfig {
  if (bytes.length > MAX_CONFIG_BYTES) {
    throw new ImggateError('BLOB_TOO_LARGE', `${what} is ${bytes.length} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`);
  }
  const result = imageConfigSchema.safeParse(parseGoJson(bytes, imageConfigSchema, what));
  if (!result.success) {
    throw new ImggateError('MANIFEST_INVALID', `${what} is not a valid image config: ${describeIssues(result.error).join('; ')}`);
  }
  return result.data;
}
