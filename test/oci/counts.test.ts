import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { check } from '../../src/check.js';
import { configSchema } from '../../src/config/schema.js';
import { checkConfigCounts, checkLayerCount, checkPlatformCount, DEFAULT_COUNT_LIMITS } from '../../src/oci/counts.js';
import type { ImageConfig } from '../../src/oci/schemas.js';
import { resolveOptions } from '../../src/options.js';

const limits = { maxLayers: 3, maxPlatforms: 2, maxHistory: 4, maxEnv: 5, maxLabels: 6 };

function config(history: number, env: number, labels: number): ImageConfig {
  return {
    rootfs: { type: 'layers', diff_ids: [] },
    history: Array.from({ length: history }, () => ({ created_by: 'RUN x' })),
    config: { Env: Array.from({ length: env }, (_, i) => `V${i}=1`), Labels: Object.fromEntries(Array.from({ length: labels }, (_, i) => [`l${i}`, 'v'])) },
  };
}

describe('count limits', function () {
  const cases: Array<{ name: string; run: () => void; error?: RegExp }> = [
    { name: 'layers at the limit', run: () => checkLayerCount(3, limits, 'manifest m') },
    { name: 'layers over it', run: () => checkLayerCount(4, limits, 'manifest m'), error: /manifest m has 4 layers, over the limit of 3 \(limits\.maxLayers\)/ },
    { name: 'platforms at the limit', run: () => checkPlatformCount(2, limits, 'index i') },
    { name: 'platforms over it', run: () => checkPlatformCount(3, limits, 'index i'), error: /index i has 3 platform images, over the limit of 2 \(limits\.maxPlatforms\)/ },
    { name: 'config entries at their limits', run: () => checkConfigCounts(config(4, 5, 6), limits, 'config c') },
    { name: 'history over', run: () => checkConfigCounts(config(5, 0, 0), limits, 'config c'), error: /5 history entries, over the limit of 4 \(limits\.maxHistory\)/ },
    { name: 'Env over', run: () => checkConfigCounts(config(0, 6, 0), limits, 'config c'), error: /6 Env entries, over the limit of 5 \(limits\.maxEnv\)/ },
    { name: 'Labels over', run: () => checkConfigCounts(config(0, 0, 7), limits, 'config c'), error: /7 Labels, over the limit of 6 \(limits\.maxLabels\)/ },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.error ? 'LIMIT_EXCEEDED' : 'accepted'}`, function () {
      if (!c.error) return c.run();
      assert.throws(c.run, (err: Error & { code?: string }) => err.code === 'LIMIT_EXCEEDED' && c.error!.test(err.message));
    });
  }

  it('are read from imggate.yaml, explicit options winning, defaults otherwise', function () {
    const file = configSchema.parse({ limits: { maxLayers: 7, maxEnv: 9, requestTimeout: '45s', minTransferRate: '1MiB' } });
    const resolved = resolveOptions('oci:x', { config: file, env: {}, limits: { maxEnv: 11 } });
    assert.equal(resolved.limits.maxLayers, 7);
    assert.equal(resolved.limits.maxEnv, 11);
    assert.equal(resolved.limits.maxLabels, DEFAULT_COUNT_LIMITS.maxLabels);
    assert.equal(resolved.limits.requestTimeoutMs, 45_000);
    assert.equal(resolved.limits.minBytesPerSecond, 1024 * 1024);
    assert.throws(() => configSchema.parse({ limits: { maxLayers: 0 } }));
  });

  it('a check of an image over a limit ends in error naming the setting', async function () {
    this.timeout(60_000);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-counts-'));
    try {
      await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
      const blob = async (data: Buffer): Promise<{ digest: string; size: number }> => {
        const hex = createHash('sha256').update(data).digest('hex');
        await writeFile(path.join(dir, 'blobs', 'sha256', hex), data);
        return { digest: `sha256:${hex}`, size: data.length };
      };
      await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      const layers = await Promise.all([1, 2, 3, 4].map((n) => blob(Buffer.alloc(1024 * n))));
      const cfg = await blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['A=1', 'B=2', 'C=3'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } })));
      const manifest = await blob(Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
        layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
      })));
      await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }] }));
      const overLayers = await check(`oci:${dir}`, { env: {}, limits: { maxLayers: 3 } });
      assert.equal(overLayers.verdict, 'error');
      assert.equal(overLayers.error?.code, 'LIMIT_EXCEEDED');
      assert.match(overLayers.error?.message ?? '', /has 4 layers, over the limit of 3 \(limits\.maxLayers\)/);
      const overEnv = await check(`oci:${dir}`, { env: {}, limits: { maxEnv: 2 } });
      assert.equal(overEnv.error?.code, 'LIMIT_EXCEEDED');
      assert.match(overEnv.error?.message ?? '', /3 Env entries, over the limit of 2 \(limits\.maxEnv\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
