import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { check } from '../../src/check.js';
import { configSchema } from '../../src/config/schema.js';
import { loadRules } from '../../src/policy/load-rules.js';
import type { CheckOptions } from '../../src/options.js';
import type { Report } from '../../src/report/types.js';
import { BUILTIN_ANALYZERS } from '../../src/scan/analyzers/index.js';
import { buildImage, writeOciLayout, type BuiltImage } from '../harness/images.js';
import { rulesWithoutFeeds } from '../harness/rules.js';
import { forEachBackend, type StoreSection } from '../store/backends.js';

/** The report without what differs from run to run (times). */
function stable(report: Report): unknown {
  const { checkedAt: _c, durationMs: _d, ...rest } = report;
  return rest;
}

const diffIds = (img: BuiltImage): string[] => (JSON.parse(img.config.data.toString('utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
/** A layer's row names its diffID; an image's conclusions name its config. */
const isImageRow = (row: { diff_id: string }, ...images: BuiltImage[]): boolean => images.some((img) => img.config.digest === row.diff_id);

describe('the layer cache (store.scanCache)', function () {
  this.timeout(120_000);
  forEachBackend((backend) => {
    let work: string;
    let rulesDir: string;
    before(async () => {
      work = await mkdtemp(path.join(os.tmpdir(), 'imggate-layer-cache-'));
      rulesDir = await rulesWithoutFeeds();
    });
    after(async () => rm(work, { recursive: true, force: true }));

    const base = (marker: string) => ({ entries: [{ name: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.21.2\n' }, { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n' }, { name: `app/${marker}`, content: 'x' }] });
    const secretLayer = { entries: [{ name: 'usr/local/bin/helper', content: 'bin', mode: 0o4755 }, { name: 'app/.env', content: 'GITHUB_TOKEN=ghp_R7vT2qLx9WmK4pZs8YbN3cJd6HfG1aQe5Uio\n' }] };
    const image = (marker: string): Promise<BuiltImage> => buildImage({ layers: [base(marker), secretLayer], user: 'app' });
    const layoutOf = async (name: string, img: BuiltImage): Promise<string> => {
      const dir = path.join(work, name);
      await writeOciLayout(dir, 'x', img);
      return dir;
    };
    const blobPath = (dir: string, digest: string): string => path.join(dir, 'blobs', 'sha256', digest.slice(7));
    const rows = (store: StoreSection) => backend().layerFacts(store);
    const freshStore = () => backend().fresh();
    const run = async (dir: string, store: StoreSection, extra: { noCache?: boolean; rules?: string; maxBytes?: number; off?: boolean; analyzers?: CheckOptions['analyzers'] } = {}): Promise<Report> =>
      check(`oci:${dir}:x`, {
        config: configSchema.parse({ store: { ...store, ...(extra.off ? { scanCache: false } : {}), ...(extra.maxBytes ? { scanCacheMaxBytes: extra.maxBytes } : {}) } }),
        rules: await loadRules(extra.rules ?? rulesDir),
        offline: true,
        env: {},
        ...(extra.noCache ? { noCache: true } : {}),
        ...(extra.analyzers ? { analyzers: extra.analyzers } : {}),
      });

    it('answers a digest checked before without reading its layers, with the same report', async function () {
      const img = await image('a');
      const dir = await layoutOf('a', img);
      const store = await freshStore();
      const first = await run(dir, store);
      assert.equal(first.verdict, 'fail', JSON.stringify(first.error));
      assert.ok(first.findings.some((f) => f.check === 'setuid'), 'the setuid helper is found');
      assert.ok(first.findings.some((f) => f.check === 'secret'), 'the secret is found');
      const written = await rows(store);
      assert.equal(written.filter((r) => !isImageRow(r, img)).length, 2, 'one row per layer');
      assert.equal(written.filter((r) => isImageRow(r, img)).length, 1, "and one of the image's conclusions");
      // The layers are gone: only the cache can answer.
      for (const layer of img.layers) await rm(blobPath(dir, layer.digest));
      const second = await run(dir, store);
      assert.deepEqual(stable(second), stable(first));
      // Without the image's row, its layers' rows answer, with the same report.
      const [imageRow] = (await rows(store)).filter((r) => isImageRow(r, img));
      await backend().tamper(store, imageRow!.key, Buffer.from('gone'));
      assert.deepEqual(stable(await run(dir, store)), stable(first));
      assert.deepEqual((await rows(store)).find((r) => r.key === imageRow!.key)?.facts, imageRow!.facts, 'the conclusions are stored again, the same bytes');
      // Without the cache the same check needs the layers, and says so.
      const uncached = await run(dir, store, { noCache: true });
      assert.equal(uncached.verdict, 'error');
      const off = await run(dir, store, { off: true });
      assert.equal(off.verdict, 'error');
      // The cache never holds a secret's value, compressed or not.
      for (const row of await rows(store)) {
        assert.doesNotMatch(gunzipSync(row.facts).toString('utf8'), /ghp_R7vT2qLx9WmK4pZs8YbN3cJd6HfG1aQe5Uio/);
      }
      assert.equal(await backend().onDiskContains(store, 'ghp_R7vT2qLx9WmK4pZs8YbN3cJd6HfG1aQe5Uio'), false);
      // The search itself works: the tables' own bytes are found.
      assert.equal(await backend().onDiskContains(store, (await rows(store))[0]!.sha256), true);
    });

    it('reads only the new layer of a new tag on a known base, and reports as a fresh check does', async function () {
      const store = await freshStore();
      const known = await image('tag');
      await run(await layoutOf('tag-1', known), store);
      const next = await buildImage({ layers: [base('tag'), { entries: [{ name: 'app/new.txt', content: 'token: ghp_Q2wE4rT6yU8iO0pA1sD3fG5hJ7kL9zX2cV4b\n' }] }], user: 'app' });
      const fresh = await run(await layoutOf('tag-fresh', next), await freshStore(), { noCache: true });
      const dir = await layoutOf('tag-2', next);
      // The base layer is not there to read: the cache must answer for it.
      await rm(blobPath(dir, next.layers[0]!.digest));
      const cached = await run(dir, store);
      assert.equal(cached.verdict, fresh.verdict, JSON.stringify(cached.error));
      // The same report but for the reference it was asked by.
      assert.deepEqual(stable({ ...cached, image: { ...cached.image, reference: 'r' } }), stable({ ...fresh, image: { ...fresh.image, reference: 'r' } }));
      assert.ok(cached.findings.some((f) => f.check === 'secret' && f.path === '/app/new.txt'), 'the new layer was scanned');
      assert.equal((await rows(store)).filter((r) => !isImageRow(r, known, next)).length, 3);
    });

    it('misses when the rules or an analyzer version change', async function () {
      const img = await image('b');
      const dir = await layoutOf('b', img);
      const store = await freshStore();
      assert.notEqual((await run(dir, store)).verdict, 'error');
      const other = path.join(work, 'rules-b');
      await cp(rulesDir, other, { recursive: true });
      await writeFile(path.join(other, 'policy.yaml'), `${await readFile(path.join(other, 'policy.yaml'), 'utf8')}\n# changed\n`);
      const bumped = BUILTIN_ANALYZERS.map((a) => (a.id === 'privileges' ? { ...a, version: a.version + 1 } : a));
      for (const layer of img.layers) await rm(blobPath(dir, layer.digest));
      assert.notEqual((await run(dir, store)).verdict, 'error', 'same rules and analyzers: answered from the cache');
      const changed = await run(dir, store, { rules: other });
      assert.equal(changed.verdict, 'error', 'other rules: the layers are read again (and are missing)');
      const newer = await run(dir, store, { analyzers: bumped });
      assert.equal(newer.verdict, 'error', 'a newer analyzer: the layers are read again (and are missing)');
    });

    it('ignores a row that does not read back as written, and reads the layer again', async function () {
      const img = await image('c');
      const dir = await layoutOf('c', img);
      const store = await freshStore();
      const first = await run(dir, store);
      const [row] = (await rows(store)).filter((r) => !isImageRow(r, img));
      const [imageRow] = (await rows(store)).filter((r) => isImageRow(r, img));
      assert.ok(row && imageRow);
      const forge = async (key: string, value: unknown): Promise<void> => {
        const bytes = gzipSync(JSON.stringify(value));
        await backend().tamper(store, key, bytes, createHash('sha256').update(bytes).digest('hex'));
      };
      // A row cut short (a crash mid-write elsewhere, a full disk) is not used, and is written again.
      // The image's row goes too, or it would answer without the layer's.
      await backend().tamper(store, row.key, row.facts.subarray(0, row.facts.length - 10));
      await backend().tamper(store, imageRow.key, imageRow.facts.subarray(0, imageRow.facts.length - 10));
      assert.deepEqual(stable(await run(dir, store)), stable(first));
      assert.deepEqual((await rows(store)).find((r) => r.key === row.key)?.facts, row.facts, 'recomputed and stored again');
      assert.deepEqual((await rows(store)).find((r) => r.key === imageRow.key)?.facts, imageRow.facts, 'concluded and stored again');
      // A row whose checksum holds but whose content is not a record (written by something else) is not used either.
      await forge(row.key, { schema: 'imggate.layer-facts/v1', key: row.key, entries: [['etc', 'file']], whiteouts: [], stats: {}, findings: [], facts: {} });
      await forge(imageRow.key, { schema: 'imggate.image-facts/v1', key: imageRow.key, findings: [{ check: 'secret' }], inventory: null, layers: [[1, 1], [1, 1]] });
      assert.deepEqual(stable(await run(dir, store)), stable(first));
      // Nor is an image row that is well formed but for another image (its key), or for another number of layers.
      for (const forged of [
        { schema: 'imggate.image-facts/v1', key: 'sha256:0', findings: [], inventory: null, layers: [[1, 1], [1, 1]] },
        { schema: 'imggate.image-facts/v1', key: imageRow.key, findings: [], inventory: null, layers: [[1, 1]] },
      ]) {
        await forge(imageRow.key, forged);
        assert.deepEqual(stable(await run(dir, store)), stable(first));
      }
    });

    it('answers from the image row alone, which is what it concluded', async function () {
      const img = await image('e');
      const dir = await layoutOf('e', img);
      const store = await freshStore();
      const first = await run(dir, store);
      const [imageRow] = (await rows(store)).filter((r) => isImageRow(r, img));
      assert.ok(imageRow);
      // The layers' rows are gone, and so are the layers: only the image's row can answer.
      for (const r of (await rows(store)).filter((r) => !isImageRow(r, img))) await backend().tamper(store, r.key, Buffer.from('gone'));
      for (const layer of img.layers) await rm(blobPath(dir, layer.digest));
      assert.deepEqual(stable(await run(dir, store)), stable(first));
      // What it answers is what the row says: a finding taken out of the row is not in the report.
      const stored = JSON.parse(gunzipSync(imageRow.facts).toString('utf8')) as { findings: Array<{ check: string }> };
      assert.ok(stored.findings.some((f) => f.check === 'setuid'));
      const edited = gzipSync(JSON.stringify({ ...stored, findings: stored.findings.filter((f) => f.check !== 'setuid') }));
      await backend().tamper(store, imageRow.key, edited, createHash('sha256').update(edited).digest('hex'));
      const answered = await run(dir, store);
      assert.equal(answered.findings.some((f) => f.check === 'setuid'), false);
      assert.equal(answered.findings.length, first.findings.length - first.findings.filter((f) => f.check === 'setuid').length);
    });

    it('keeps whether a tar name was rooted, which can move where containerd puts the entry', async function () {
      // etc -> a/b/..: RootPath cleans it as text for the rooted /etc/s, and walks the link b first for etc/r.
      const img = await buildImage({
        layers: [{ entries: [{ name: 'etc', type: 'symlink', linkname: 'a/b/..' }, { name: 'etc/b', type: 'symlink', linkname: '/etc/x' }, { name: '/etc/s', content: 'ELF', mode: 0o4755 }, { name: 'etc/r', content: 'ELF', mode: 0o4755 }] }],
      });
      const dir = await layoutOf('rooted', img);
      const store = await freshStore();
      const first = await run(dir, store);
      const setuid = (r: Report): string[] => r.findings.filter((f) => f.check === 'setuid').map((f) => f.path ?? '').sort();
      const r = setuid(first).find((p) => p.endsWith('/r')) ?? '';
      const s = setuid(first).find((p) => p.endsWith('/s')) ?? '';
      assert.ok(r && s, JSON.stringify(setuid(first)));
      assert.notEqual(path.posix.dirname(r), path.posix.dirname(s), 'the rooted name lands elsewhere');
      // From the layer's row alone (the image's row gone), the same places.
      const [imageRow] = (await rows(store)).filter((row) => isImageRow(row, img));
      await backend().tamper(store, imageRow!.key, Buffer.from('gone'));
      for (const layer of img.layers) await rm(blobPath(dir, layer.digest));
      assert.deepEqual(stable(await run(dir, store)), stable(first));
    });

    it('keeps a hard link\'s target as written, which containerd resolves uncleaned', async function () {
      // `a/../s` with a -> d/e is /d/s to containerd (a followed before the `..`); cleaned it would be /s.
      const img = await buildImage({
        layers: [
          { entries: [{ name: 'd/s', content: 'ELF', mode: 0o755 }, { name: 'a', type: 'symlink', linkname: 'd/e' }, { name: 'y', type: 'hardlink', linkname: 'a/../s', mode: 0o4755 }] },
          { entries: [{ name: '.wh.y' }] },
        ],
      });
      const dir = await layoutOf('hardlink-target', img);
      const store = await freshStore();
      const first = await run(dir, store);
      assert.ok(first.findings.some((f) => f.check === 'setuid' && f.blocking && f.message.includes(' /d/s ')), JSON.stringify(first.findings));
      const [imageRow] = (await rows(store)).filter((row) => isImageRow(row, img));
      await backend().tamper(store, imageRow!.key, Buffer.from('gone'));
      for (const layer of img.layers) await rm(blobPath(dir, layer.digest));
      assert.deepEqual(stable(await run(dir, store)), stable(first));
    });

    it('keeps within its size, dropping the least recently used', async function () {
      const store = await freshStore();
      const one = await layoutOf('d1', await image('d1'));
      const two = await layoutOf('d2', await image('d2'));
      await run(one, store, { maxBytes: 1 });
      await run(two, store, { maxBytes: 1 });
      // Each write evicts down to the limit: nothing survives a 1-byte bound.
      assert.deepEqual(await rows(store), []);
      await run(one, store);
      await run(two, store);
      const [d1, d2] = [await image('d1'), await image('d2')];
      // d1 and d2 share their second layer: three rows, and one for each image.
      assert.equal((await rows(store)).filter((r) => !isImageRow(r, d1, d2)).length, 3);
      assert.equal((await rows(store)).filter((r) => isImageRow(r, d1, d2)).length, 2);
      // d3 shares the second layer too; its own first layer and its image row are more than the bound allows.
      await run(two, store);
      const d2Keep = new Set([...diffIds(d2), d2.config.digest]);
      const d2Bytes = (await rows(store)).filter((r) => d2Keep.has(r.diff_id)).reduce((n, r) => n + r.bytes, 0);
      const baseBytes = Math.max(...(await rows(store)).filter((r) => !isImageRow(r, d1, d2)).map((r) => r.bytes));
      const imageBytes = Math.max(...(await rows(store)).filter((r) => isImageRow(r, d1, d2)).map((r) => r.bytes));
      const three = await image('d3');
      await run(await layoutOf('d3', three), store, { maxBytes: d2Bytes + baseBytes + imageBytes + 64 });
      assert.deepEqual(new Set((await rows(store)).map((r) => r.diff_id)), new Set([...d2Keep, ...diffIds(three), three.config.digest]), 'd1, used least recently, is dropped');
    });
  });
});
