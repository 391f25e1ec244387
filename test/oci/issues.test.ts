import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from '../../src/zod.js';
import { parseManifest } from '../../src/oci/manifest.js';
import { describeIssues } from '../../src/oci/schemas.js';
import { run } from '../harness/process.js';

/** A manifest of `n` layers, each with a bad digest and a negative size: 2n issues, about 40 bytes a layer. */
function badManifest(n: number): Buffer {
  const layer = '{"mediaType":"a","digest":"x","size":-1}';
  return Buffer.from(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":"sha256:${'0'.repeat(64)}","size":1},"layers":[${Array(n).fill(layer).join(',')}]}`);
}

describe('validation messages are bounded', function () {
  it('says a problem repeated at every index once, with a count', function () {
    assert.throws(() => parseManifest(badManifest(9_000), undefined, 'manifest m'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MANIFEST_INVALID');
      assert.ok(err.message.length < 2000, `${err.message.length} characters`);
      assert.match(err.message, /layers\.0\.digest: not a valid sha256\/sha512 digest \(and at 8999 more places\)/);
      assert.match(err.message, /layers\.0\.size: .* \(and at 8999 more places\)/);
      return true;
    });
  });

  it('refuses a manifest listing more descriptors than any image uses before validating them one by one', function () {
    assert.throws(() => parseManifest(badManifest(100_000), undefined, 'manifest m'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MANIFEST_INVALID');
      assert.match(err.message, /lists 100000 layers, more than the 10000/);
      return true;
    });
  });

  const shapes: Array<{ name: string; fields: number; listed: number; more: string | undefined }> = [
    { name: 'a few problems, all listed', fields: 3, listed: 3, more: undefined },
    { name: 'exactly the limit', fields: 10, listed: 10, more: undefined },
    { name: 'one more than the limit', fields: 11, listed: 10, more: 'and 1 more problem' },
    { name: 'many distinct problems', fields: 5000, listed: 10, more: 'and 4990 more problems' },
  ];
  for (const s of shapes) {
    it(`${s.name}: ${s.listed} listed${s.more ? `, then "${s.more}"` : ''}`, function () {
      const schema = z.object(Object.fromEntries(Array.from({ length: s.fields }, (_, i) => [`f${i}`, z.string()])));
      const result = schema.safeParse({});
      assert.equal(result.success, false);
      const lines = describeIssues((result as { error: z.core.$ZodError }).error);
      assert.equal(lines.length, s.listed + (s.more ? 1 : 0));
      assert.equal(lines[0]?.startsWith('f0: '), true);
      assert.equal(lines[lines.length - 1]?.startsWith('and '), s.more !== undefined);
      if (s.more) assert.equal(lines[lines.length - 1], s.more);
    });
  }

  it('a 4 MB manifest of bad layers: bounded message and memory (child process RSS)', async function () {
    this.timeout(170_000);
    const here = path.dirname(fileURLToPath(import.meta.url));
    const module = path.join(here, '../../src/oci/manifest.js');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-issues-'));
    try {
      const bytes = badManifest(100_000);
      assert.ok(bytes.length > 3.9e6 && bytes.length <= 4 * 1024 * 1024, `${bytes.length} bytes`);
      await writeFile(path.join(dir, 'm.json'), bytes);
      await writeFile(path.join(dir, 'child.mjs'), `
        import { readFileSync } from 'node:fs';
        import { parseManifest } from ${JSON.stringify(module)};
        let length = -1;
        try { parseManifest(readFileSync(${JSON.stringify(path.join(dir, 'm.json'))}), undefined, 'm'); }
        catch (err) { length = err.message.length; }
        process.stdout.write(JSON.stringify({ length, rss: process.resourceUsage().maxRSS * 1024 }));
      `);
      const r = await run(process.execPath, [path.join(dir, 'child.mjs')]);
      assert.equal(r.code, 0, r.stderr);
      const { length, rss } = JSON.parse(r.stdout) as { length: number; rss: number };
      assert.ok(length > 0 && length < 2000, `message of ${length} characters`);
      assert.ok(rss < 1024 * 1024 * 1024, `peak RSS ${Math.round(rss / 1048576)} MiB`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
