import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { boundedCheck } from '../../src/cli/bounded-check.js';
import { CheckThread, spawnCheckThread } from '../../src/cli/check-thread.js';
import { buildImage, writeOciLayout } from '../harness/images.js';
import { rulesWithoutFeeds } from '../harness/rules.js';

/**
 * The CLI's backstop around a check: a thread ended at its deadline plus a grace period, or when its
 * heap passes `limits.maxHeap`. Both end in an `error` report, never in a late verdict.
 */
describe("the check's own thread", function () {
  this.timeout(120_000);
  let work: string;
  let rulesDir: string;
  let bigConfig: string;
  let small: string;
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'imggate-bounded-'));
    rulesDir = await rulesWithoutFeeds();
    // A config of about 7 MiB that is two million small objects once parsed: little on disk, a lot of heap.
    const image = await buildImage({ layers: [{ entries: [{ name: 'a', content: 'a' }] }], extraConfig: { Padding: Array.from({ length: 2_000_000 }, () => ({})) } });
    bigConfig = path.join(work, 'big');
    await writeOciLayout(bigConfig, 'x', image);
    small = path.join(work, 'small');
    await writeOciLayout(small, 'x', await buildImage({ layers: [{ entries: [{ name: 'a', content: 'a' }] }] }));
  });
  after(async () => rm(work, { recursive: true, force: true }));

  it('is ended when its heap passes limits.maxHeap: LIMIT_EXCEEDED', async function () {
    const { report } = await boundedCheck(`oci:${bigConfig}:x`, { offline: true, env: {} }, rulesDir, { timeoutMs: 60_000, maxHeapBytes: 64 * 1024 ** 2 });
    assert.equal(report.verdict, 'error');
    assert.equal(report.error?.code, 'LIMIT_EXCEEDED', JSON.stringify(report.error));
    assert.match(report.error?.message ?? '', /more than 64 MiB of heap \(limits\.maxHeap\)/);
  });

  it('hands back the report and the rules the thread loaded (for SARIF)', async function () {
    const { report, ruleInfo } = await boundedCheck(`oci:${small}:x`, { offline: true, env: {} }, rulesDir, { timeoutMs: 60_000, maxHeapBytes: 64 * 1024 ** 2 });
    assert.notEqual(report.verdict, 'error', JSON.stringify(report.error));
    assert.ok(ruleInfo.has('root-user'));
  });

  it('is ended at its deadline plus the grace period when it does not stop by itself: CHECK_TIMEOUT', async function () {
    // 1 ms of deadline and 1 ms of grace: the thread is still starting (or parsing the config) when it is ended.
    const { report } = await boundedCheck(`oci:${bigConfig}:x`, { offline: true, env: {} }, rulesDir, { timeoutMs: 1, maxHeapBytes: 2 * 1024 ** 3, graceMs: 1 });
    assert.equal(report.verdict, 'error');
    assert.equal(report.error?.code, 'CHECK_TIMEOUT');
    assert.match(report.error?.message ?? '', /did not stop; its thread was ended/);
  });

  it('uses a thread started ahead when its heap bound is the one asked for, and starts its own otherwise', async function () {
    // Started with 64 MiB: the check asks for 64 MiB and is ended there.
    const small64 = new CheckThread(64 * 1024 ** 2);
    const ended = await boundedCheck(`oci:${bigConfig}:x`, { offline: true, env: {} }, rulesDir, { timeoutMs: 60_000, maxHeapBytes: 64 * 1024 ** 2 }, undefined, small64);
    assert.equal(ended.report.error?.code, 'LIMIT_EXCEEDED', JSON.stringify(ended.report.error));
    // Started with the default 2 GiB, but the check asks for 64 MiB: that thread is not used, and the bound holds.
    const ahead = new CheckThread();
    const bounded = await boundedCheck(`oci:${bigConfig}:x`, { offline: true, env: {} }, rulesDir, { timeoutMs: 60_000, maxHeapBytes: 64 * 1024 ** 2 }, undefined, ahead);
    assert.equal(bounded.report.error?.code, 'LIMIT_EXCEEDED', JSON.stringify(bounded.report.error));
    // A thread is handed out once.
    assert.equal(ahead.take(2 * 1024 ** 3), undefined);
    const fresh = new CheckThread();
    const { report } = await boundedCheck(`oci:${small}:x`, { offline: true, env: {} }, rulesDir, { timeoutMs: 60_000, maxHeapBytes: 2 * 1024 ** 3 }, undefined, fresh);
    assert.notEqual(report.verdict, 'error', JSON.stringify(report.error));
  });

  it('gives the thread a young generation of at most a quarter of its heap bound, on every Node version', async function () {
    // Node 24's own default is 192 MiB whatever the bound: a 64 MiB thread then aborted the process when full.
    for (const [heapMb, youngMb] of [[64, 16], [2048, 48]] as const) {
      const worker = spawnCheckThread(heapMb);
      try {
        await new Promise((resolve) => worker.once('online', resolve));
        assert.deepEqual([worker.resourceLimits?.maxOldGenerationSizeMb, worker.resourceLimits?.maxYoungGenerationSizeMb], [heapMb, youngMb]);
      } finally {
        await worker.terminate();
      }
    }
  });

  it('throws a rules directory that does not load, as loading it in the caller would', async function () {
    await assert.rejects(boundedCheck(`oci:${bigConfig}:x`, { offline: true, env: {} }, path.join(work, 'no-rules'), { timeoutMs: 60_000, maxHeapBytes: 2 * 1024 ** 3 }), /has no policy\.yaml/);
  });
});
