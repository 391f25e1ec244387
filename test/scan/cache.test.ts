import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { check } from '../../src/check.js';
import { configSchema } from '../../src/config/schema.js';
import { loadRules } from '../../src/policy/load-rules.js';
import type { Report } from '../../src/report/types.js';
import { buildImage, writeOciLayout, type BuiltImage } from '../harness/images.js';
import { rulesWithoutFeeds } from '../harness/rules.js';

/** The report without what differs from run to run (times). */
function stable(report: Report): unknown {
  const { checkedAt: _c, durationMs: _d, ...rest } = report;
  return rest;
}

describe('the scan cache (store.scanCache)', function () {
  this.timeout(120_000);
  let work: string;
  let rulesDir: string;
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'imggate-scan-cache-'));
    rulesDir = await rulesWithoutFeeds();
  });
  after(async () => rm(work, { recursive: true, force: true }));

  const image = (marker: string): Promise<BuiltImage> =>
    buildImage({
      layers: [
        { entries: [{ name: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.21.2\n' }, { name: `app/${marker}`, content: 'x' }] },
        { entries: [{ name: 'usr/local/bin/helper', content: 'bin', mode: 0o4755 }, { name: 'app/.env', content: 'GITHUB_TOKEN=ghp_R7vT2qLx9WmK4pZs8YbN3cJd6HfG1aQe5Uio\n' }] },
      ],
    });
  const layoutOf = async (name: string, img: BuiltImage): Promise<string> => {
    const dir = path.join(work, name);
    await writeOciLayout(dir, 'x', img);
    return dir;
  };
  const blobPath = (dir: string, digest: string): string => path.join(dir, 'blobs', 'sha256', digest.slice(7));
  const run = async (dir: string, store: string, extra: { noCache?: boolean; rules?: string; maxBytes?: number; off?: boolean } = {}): Promise<Report> =>
    check(`oci:${dir}:x`, {
      config: configSchema.parse({ store: { dir: store, ...(extra.off ? {} : { scanCache: true }), ...(extra.maxBytes ? { scanCacheMaxBytes: extra.maxBytes } : {}) } }),
      rules: await loadRules(extra.rules ?? rulesDir),
      offline: true,
      env: {},
      ...(extra.noCache ? { noCache: true } : {}),
    });

  it('answers a digest scanned before without reading its layers, with the same report', async function () {
    const img = await image('a');
    const dir = await layoutOf('a', img);
    const store = path.join(work, 'store-a');
    const first = await run(dir, store);
    assert.equal(first.verdict, 'fail', JSON.stringify(first.error));
    assert.ok(first.findings.some((f) => f.check === 'setuid'), 'the setuid helper is found');
    assert.ok(first.findings.some((f) => f.check === 'secret'), 'the secret is found');
    // The layers are gone: only the cache can answer.
    for (const layer of img.layers) await rm(blobPath(dir, layer.digest));
    const second = await run(dir, store);
    assert.deepEqual(stable(second), stable(first));
    // Without the cache the same check needs the layers, and says so.
    const uncached = await run(dir, store, { noCache: true });
    assert.equal(uncached.verdict, 'error');
    const off = await run(dir, store, { off: true });
    assert.equal(off.verdict, 'error');
    // The cache never holds a secret's value.
    const files = await readdir(path.join(store, 'scan-cache'));
    for (const f of files) assert.doesNotMatch(await readFile(path.join(store, 'scan-cache', f), 'utf8'), /ghp_R7vT2qLx9WmK4pZs8YbN3cJd6HfG1aQe5Uio/);
  });

  it('misses when the rules change', async function () {
    const img = await image('b');
    const dir = await layoutOf('b', img);
    const store = path.join(work, 'store-b');
    assert.notEqual((await run(dir, store)).verdict, 'error');
    const other = path.join(work, 'rules-b');
    await (await import('node:fs/promises')).cp(rulesDir, other, { recursive: true });
    await writeFile(path.join(other, 'policy.yaml'), `${await readFile(path.join(other, 'policy.yaml'), 'utf8')}\n# changed\n`);
    for (const layer of img.layers) await rm(blobPath(dir, layer.digest));
    const changed = await run(dir, store, { rules: other });
    assert.equal(changed.verdict, 'error', 'other rules: the layers are read again (and are missing)');
  });

  it('ignores an entry that does not read back as written, and scans again', async function () {
    const img = await image('c');
    const dir = await layoutOf('c', img);
    const store = path.join(work, 'store-c');
    const first = await run(dir, store);
    const cacheDir = path.join(store, 'scan-cache');
    const [file] = await readdir(cacheDir);
    assert.ok(file);
    const saved = JSON.parse(await readFile(path.join(cacheDir, file), 'utf8')) as { facts: { findings: unknown[] } };
    // A truncated entry (a crash mid-write elsewhere, a full disk) is not used.
    await writeFile(path.join(cacheDir, file), JSON.stringify(saved).slice(0, -10));
    const again = await run(dir, store);
    assert.deepEqual(stable(again), stable(first));
    // And one whose findings are not findings.
    saved.facts.findings = [{ check: 'setuid' }];
    await writeFile(path.join(cacheDir, file), JSON.stringify(saved));
    assert.deepEqual(stable(await run(dir, store)), stable(first));
  });

  it('keeps within its size, dropping the least recently used', async function () {
    const store = path.join(work, 'store-d');
    const one = await layoutOf('d1', await image('d1'));
    const two = await layoutOf('d2', await image('d2'));
    await run(one, store, { maxBytes: 1 });
    await run(two, store, { maxBytes: 1 });
    // Each write evicts down to the limit: nothing older than the newest survives, and the newest neither (1 byte).
    assert.deepEqual((await readdir(path.join(store, 'scan-cache'))).filter((f) => f.endsWith('.json')), []);
    await run(one, store);
    await run(two, store);
    assert.equal((await readdir(path.join(store, 'scan-cache'))).filter((f) => f.endsWith('.json')).length, 2);
  });
});
