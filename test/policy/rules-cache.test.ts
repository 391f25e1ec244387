import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadRules, type RuleSet } from '../../src/policy/load-rules.js';
import { DEFAULT_RULES_DIR } from '../../src/policy/rules-dir.js';

/** A rule set as plain data, regular expressions by source and flags, so two loads compare whole. */
function plain(rules: RuleSet): unknown {
  return JSON.parse(JSON.stringify({ ...rules, info: [...rules.info], trust: undefined }, (_k, v: unknown) => (v instanceof RegExp ? `/${v.source}/${v.flags}` : v)));
}

describe('the rules cache: rule files read before are not parsed again', function () {
  let dir: string;
  let rulesDir: string;
  let saved: string | undefined;
  const cacheDir = (): string => path.join(dir, 'cache', 'imggate', 'rules');

  beforeEach(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-rules-cache-'));
    rulesDir = path.join(dir, 'rules');
    await cp(DEFAULT_RULES_DIR, rulesDir, { recursive: true });
    saved = process.env['XDG_CACHE_HOME'];
    process.env['XDG_CACHE_HOME'] = path.join(dir, 'cache');
  });
  afterEach(async function () {
    if (saved === undefined) delete process.env['XDG_CACHE_HOME'];
    else process.env['XDG_CACHE_HOME'] = saved;
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the same rule set from the cache as from the files, digest and trust included', async function () {
    const fresh = await loadRules(rulesDir);
    const entries = await readdir(cacheDir());
    assert.ok(entries.length >= 5, `one entry per rule file, found ${entries.length}`);
    const cached = await loadRules(rulesDir);
    assert.deepEqual(plain(cached), plain(fresh));
    assert.equal(cached.digest, fresh.digest);
    assert.deepEqual(cached.trust.scopes.map((s) => s.level), fresh.trust.scopes.map((s) => s.level));
    assert.ok(cached.secretRules.some((r) => r.literals.length > 0), 'the matcher anchors come back too');
  });

  it('ignores an entry that does not read back as written, and a changed file misses it', async function () {
    await loadRules(rulesDir);
    // Every entry damaged: bodies that no longer match their checksum.
    for (const name of await readdir(cacheDir())) {
      const file = path.join(cacheDir(), name);
      const entry = JSON.parse(await readFile(file, 'utf8')) as { body: string };
      await writeFile(file, JSON.stringify({ ...entry, body: entry.body.replace(/"maxLength":\d+/g, '"maxLength":1') }));
    }
    const again = await loadRules(rulesDir);
    assert.ok(again.secretRules.every((r) => r.maxLength > 1), 'the damaged entries were not used');
    // An edit to a rule file is read: a pattern that may backtrack is refused even though the file was cached before.
    const generic = path.join(rulesDir, 'secrets', 'generic.yaml');
    const text = await readFile(generic, 'utf8');
    assert.ok(text.includes('{12,128})'));
    await writeFile(generic, text.replace('{12,128})', '{12,})'));
    await assert.rejects(loadRules(rulesDir), /generic\.yaml.*pattern/s);
  });
});
