import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/parse.js';
import { parseDuration, parseSize } from '../../src/config/units.js';
import { resolveOptions } from '../../src/options.js';

describe('imggate.yaml', function () {
  it('accepts a full config and turns sizes and durations into numbers', function () {
    const config = parseConfig(
      [
        'registries:',
        '  registry.example.com:',
        '    mirrors: [mirror.example.com]',
        '    credentials: { username: ci, passwordEnv: REG_PASSWORD }',
        '  10.0.0.5:5000:',
        '    insecure: true',
        'credentials:',
        '  dockerConfig: false',
        'store: { dir: /var/lib/imggate }',
        'rules: { dir: ./rules }',
        'limits:',
        '  maxLayerBytes: 2GiB',
        '  maxFileBytes: 512KiB',
        '  timeout: 10m',
        '  concurrency: 3',
      ].join('\n'),
      'imggate.yaml',
    );
    assert.equal(config.limits.maxLayerBytes, 2 * 1024 ** 3);
    assert.equal(config.limits.maxFileBytes, 512 * 1024);
    assert.equal(config.limits.timeout, 600_000);
    assert.equal(config.registries['10.0.0.5:5000']?.insecure, true);
    const resolved = resolveOptions('registry.example.com/a:b', { config, env: { REG_PASSWORD: 'pw' } });
    assert.equal(resolved.limits.maxLayerBytes, 2 * 1024 ** 3);
    assert.equal(resolved.limits.concurrency, 3);
    assert.deepEqual(resolved.registry('registry.example.com').mirrors, ['mirror.example.com']);
  });

  it('names every bad field', function () {
    assert.throws(
      () => parseConfig('limits:\n  maxLayerBytes: lots\n  timeout: soon\nregistries:\n  x:\n    insecure: "yes"\nunknownKey: 1\n', 'bad.yaml'),
      (err: Error & { code?: string }) =>
        err.code === 'CONFIG_INVALID' &&
        /bad\.yaml/.test(err.message) &&
        /limits\.maxLayerBytes: "lots" is not a size/.test(err.message) &&
        /limits\.timeout: "soon" is not a duration/.test(err.message) &&
        /registries\.x\.insecure/.test(err.message) &&
        /unknownKey/.test(err.message),
    );
    assert.throws(() => parseConfig('a: [unclosed', 'y.yaml'), /not valid YAML/);
  });

  it('finds the file: --config, then $IMGGATE_CONFIG, then the default location', async function () {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-config-'));
    try {
      const a = path.join(dir, 'a.yaml');
      const b = path.join(dir, 'b.yaml');
      await writeFile(a, 'limits: { concurrency: 1 }\n');
      await writeFile(b, 'limits: { concurrency: 2 }\n');
      const { mkdir } = await import('node:fs/promises');
      await mkdir(path.join(dir, 'xdg', 'imggate'), { recursive: true });
      await writeFile(path.join(dir, 'xdg', 'imggate', 'imggate.yaml'), 'limits: { concurrency: 4 }\n');
      assert.equal((await loadConfig(a, { IMGGATE_CONFIG: b })).config.limits.concurrency, 1);
      assert.equal((await loadConfig(undefined, { IMGGATE_CONFIG: b })).config.limits.concurrency, 2);
      assert.equal((await loadConfig(undefined, { XDG_CONFIG_HOME: path.join(dir, 'xdg') })).config.limits.concurrency, 4);
      assert.equal((await loadConfig(undefined, { XDG_CONFIG_HOME: path.join(dir, 'none') })).file, undefined);
      await assert.rejects(loadConfig(path.join(dir, 'missing.yaml'), {}), { code: 'CONFIG_NOT_FOUND' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps a valid config in the cache by its exact text: the same text gives the same config, a changed one its own; damaged entries and invalid configs are never used', async function () {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-config-cache-'));
    try {
      const file = path.join(dir, 'imggate.yaml');
      const env = { XDG_CACHE_HOME: path.join(dir, 'cache') };
      const entries = async (): Promise<string[]> => (await readdir(path.join(dir, 'cache', 'imggate', 'config'))).filter((f) => f.endsWith('.json'));
      const text = 'limits: { maxFileBytes: 2MiB, timeout: 90s }\nstore: { dir: ~/gate }\n';
      await writeFile(file, text);
      const fresh = parseConfig(text, file);
      const first = await loadConfig(file, env);
      assert.deepEqual(first.config, fresh);
      assert.equal((await entries()).length, 1);
      // Read back from the entry: the same config, sizes, durations and ~ expanded as parsing gives them.
      assert.deepEqual((await loadConfig(file, env)).config, fresh);
      assert.equal(first.config.limits.maxFileBytes, 2 * 1024 * 1024);
      assert.equal(first.config.store.dir, path.join(os.homedir(), 'gate'));
      // Another text at the same path is another entry.
      await writeFile(file, 'limits: { maxFileBytes: 3MiB }\n');
      assert.equal((await loadConfig(file, env)).config.limits.maxFileBytes, 3 * 1024 * 1024);
      assert.equal((await entries()).length, 2);
      // A damaged entry reads as none: the file is parsed again and gives the right config.
      for (const entry of await entries()) await writeFile(path.join(dir, 'cache', 'imggate', 'config', entry), '{"key":"x","sha256":"0","body":"{}"}');
      assert.equal((await loadConfig(file, env)).config.limits.maxFileBytes, 3 * 1024 * 1024);
      // An invalid config is refused every time, never kept.
      await writeFile(file, 'limits: { maxFileBytes: lots }\n');
      await assert.rejects(loadConfig(file, env), { code: 'CONFIG_INVALID' });
      await assert.rejects(loadConfig(file, env), { code: 'CONFIG_INVALID' });
      assert.equal((await entries()).length, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a credentials entry whose password variable is unset', function () {
    const config = parseConfig('registries:\n  r.example:\n    credentials: { username: u, passwordEnv: NOPE }\n', 'c.yaml');
    assert.throws(() => resolveOptions('r.example/a', { config, env: {} }), /\$NOPE is unset/);
  });
});

describe('sizes and durations', function () {
  const sizes: Array<[string | number, number | undefined]> = [
    ['1048576', 1048576], ['512KiB', 524288], ['4GB', 4e9], ['1.5MiB', 1572864], [7, 7], ['12 parsecs', undefined], ['-1', undefined],
  ];
  for (const [text, want] of sizes) it(`size ${String(text)}`, () => assert.equal(parseSize(text), want));
  const durations: Array<[string | number, number | undefined]> = [['90s', 90_000], ['15m', 900_000], ['1h30m', 5_400_000], ['250ms', 250], ['30', 30_000], ['5 minutes', undefined], ['1h 2m', undefined]];
  for (const [text, want] of durations) it(`duration ${String(text)}`, () => assert.equal(parseDuration(text), want));
});

describe('the example config', function () {
  it('imggate.example.yaml is valid and expands ~', async function () {
    const { readFile } = await import('node:fs/promises');
    const config = parseConfig(await readFile('imggate.example.yaml', 'utf8'), 'imggate.example.yaml');
    assert.equal(config.credentials.dockerConfig, path.join(os.homedir(), '.docker/config.json'));
    assert.equal(config.limits.concurrency, 2);
  });
});
