import fc from 'fast-check';
import { makeTar } from '../helpers/tar-writer.js';
import { missed, releaseMissed, worldWritableMissed } from './compare.js';
import { image } from './generate.js';
import { scanImage } from './imggate.js';
import { applyWithOracle, runtimeWorldWritable } from './oracle.js';

/** Compares imggate with the runtime oracle on `runs` generated images; fast-check shrinks any failure. */
export async function checkGenerated(runs: number, seed: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(image, async (img) => {
      const blobs = img.layers.map((entries) => makeTar(entries));
      const [{ result: oracle, looked: writable }, scanned] = await Promise.all([
        applyWithOracle(blobs, img.user, (work, result) => runtimeWorldWritable(work, blobs.length, result)),
        scanImage(blobs, img.user),
      ]);
      const diff = [...missed(oracle, scanned.findings), ...releaseMissed(oracle, scanned.os, scanned.findings), ...worldWritableMissed(writable, scanned.findings)];
      if (diff.length) throw new Error(`${diff.join('\n')}\noracle: ${JSON.stringify(oracle)}`);
    }),
    { numRuns: runs, seed, endOnFailure: false, interruptAfterTimeLimit: undefined },
  );
}
