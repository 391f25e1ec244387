import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadSuiteSnapshot, saveSuiteSnapshot, type SuiteSnapshot } from '../../src/feeds/store.js';

const snapshot = (bash: string): SuiteSnapshot => ({
  kind: 'debian-suite',
  mirror: 'http://mirror.invalid/debian',
  suite: 'bookworm',
  digest: `sha256:${bash}`,
  fetchedAt: new Date(0).toISOString(),
  verified: true,
  packages: { bash },
});

describe('feed snapshots a process has read', function () {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-snapshots-'))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('are parsed once while the file is the same, and read again once an update replaced it', async function () {
    await saveSuiteSnapshot(dir, 'bookworm', snapshot('5.2.15-2+b2'));
    const first = await loadSuiteSnapshot(dir, 'bookworm', 'bookworm');
    assert.equal(first?.packages['bash'], '5.2.15-2+b2');
    assert.equal(await loadSuiteSnapshot(dir, 'bookworm', 'bookworm'), first, 'the same file: the parsed snapshot is reused');
    await saveSuiteSnapshot(dir, 'bookworm', snapshot('5.2.15-2+b7'));
    const second = await loadSuiteSnapshot(dir, 'bookworm', 'bookworm');
    assert.equal(second?.packages['bash'], '5.2.15-2+b7');
  });

  it('are refused when the file is damaged, even after a good read of it', async function () {
    const file = await saveSuiteSnapshot(dir, 'bookworm', snapshot('1'));
    assert.ok(await loadSuiteSnapshot(dir, 'bookworm', 'bookworm'));
    await writeFile(file, '{"kind": "debian-suite"');
    await assert.rejects(loadSuiteSnapshot(dir, 'bookworm', 'bookworm'), /is not a feed snapshot|run imggate feeds update/);
    await rm(file);
    assert.equal(await loadSuiteSnapshot(dir, 'bookworm', 'bookworm'), undefined);
  });
});
