import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Mocha's root hooks (loaded by .mocharc.json): checks run in-process keep their verdicts and layer
 * cache in a store of the test run's own, never in the user's (`~/.local/share/imggate`).
 */
const dataHome = mkdtempSync(path.join(os.tmpdir(), 'imggate-test-store-'));
process.env['XDG_DATA_HOME'] = dataHome;

export const mochaHooks = {
  afterAll(): void {
    rmSync(dataHome, { recursive: true, force: true });
  },
};
