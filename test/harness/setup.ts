import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Mocha's root hooks (loaded by .mocharc.json):
 * - checks run in-process keep their verdicts and layer cache in a store of the test run's own,
 *   never in the user's (`~/.local/share/imggate`), and parsed rules in a cache of its own;
 * - every temporary directory a test makes (`os.tmpdir()`, also in the processes it starts) lands in
 *   one directory of the run, removed at its end, so a test that forgets its own leaves nothing behind.
 */
const runDir = mkdtempSync(path.join(os.tmpdir(), 'imggate-test-run-'));
process.env['TMPDIR'] = runDir;
const dataHome = mkdtempSync(path.join(runDir, 'store-'));
process.env['XDG_DATA_HOME'] = dataHome;
// The rules cache too (imggate check keeps parsed rule files in $XDG_CACHE_HOME/imggate/rules).
process.env['XDG_CACHE_HOME'] = mkdtempSync(path.join(runDir, 'cache-'));

export const mochaHooks = {
  afterAll(): void {
    try {
      rmSync(runDir, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      // A process a test started may still be writing there: say so, and let the run's verdict stand.
      console.error(`could not remove the test run's temporary directory ${runDir}: ${(err as Error).message}`);
    }
  },
};
