import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DEFAULT_LIMITS } from '../../src/options.js';
import { imageConfigSchema } from '../../src/oci/schemas.js';
import { loadRules } from '../../src/policy/load-rules.js';
import type { RuleSet } from '../../src/policy/load-rules.js';
import type { OsInfo } from '../../src/packages/types.js';
import type { Finding } from '../../src/report/types.js';
import { BUILTIN_ANALYZERS } from '../../src/scan/analyzers/index.js';
import { scanLayers, type LayerInput } from '../../src/scan/engine.js';

let rules: RuleSet | undefined;

/** Runs imggate's layer engine with the built-in analyzers on plain tar blobs, as `check` would. */
export async function scanBlobs(blobs: readonly Buffer[], user: string): Promise<Finding[]> {
  return (await scanImage(blobs, user)).findings;
}

/** The scan's findings and the release imggate read (the inventory's os-release). */
export async function scanImage(blobs: readonly Buffer[], user: string): Promise<{ findings: Finding[]; os: OsInfo | undefined }> {
  rules ??= await loadRules();
  const inputs: LayerInput[] = blobs.map((blob, index) => {
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    return {
      index,
      descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: blob.length },
      diffId: digest,
      createdBy: undefined,
      open: () => Promise.resolve(Readable.from([blob])),
    };
  });
  const config = imageConfigSchema.parse({
    architecture: 'amd64',
    os: 'linux',
    config: { User: user },
    rootfs: { type: 'layers', diff_ids: inputs.map((i) => i.diffId) },
  });
  const limits = { maxUncompressedLayerBytes: 1 << 30, maxUncompressedTotalBytes: 1 << 30, maxFileBytes: 1 << 20, concurrency: 2, maxDirectoryEntries: DEFAULT_LIMITS.maxDirectoryEntries, maxPathDepth: DEFAULT_LIMITS.maxPathDepth, maxEntries: DEFAULT_LIMITS.maxEntries };
  const context = { rules, maxFileBytes: 1 << 20 };
  const result = await scanLayers(inputs, config, BUILTIN_ANALYZERS, context, limits);
  return { findings: result.findings, os: result.inventory?.os };
}
