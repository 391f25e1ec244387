import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EXIT } from '../../src/cli/exit-codes.js';
import { MAIN_HELP, SBOM_HELP, SERVE_HELP } from '../../src/cli/help.js';
import { cli } from '../harness/cli.js';
import { buildImage, writeOciLayout } from '../harness/images.js';
import { rulesWithoutFeeds } from '../harness/rules.js';
import { run } from '../harness/process.js';

describe('imggate help, version and unknown commands', function () {
  const cases: Array<[string[], number, string | RegExp]> = [
    [[], EXIT.usage, MAIN_HELP],
    [['help'], 0, MAIN_HELP],
    [['--help'], 0, MAIN_HELP],
    [['help', 'no-such-command'], 0, MAIN_HELP],
    [['help', 'constructor'], 0, MAIN_HELP],
    [['help', 'sbom'], 0, SBOM_HELP],
    [['sbom', '--help'], 0, SBOM_HELP],
    [['sbom', 'oci:x:y', '-h'], 0, SBOM_HELP],
    [['help', 'serve'], 0, SERVE_HELP],
    [['version'], 0, /^imggate \d+\.\d+\.\d+\S*\n$/],
    [['-V'], 0, /^imggate \d+\.\d+\.\d+\S*\n$/],
  ];
  for (const [argv, code, stdout] of cases) {
    it(`imggate ${argv.join(' ')}`.trimEnd(), async function () {
      const r = await cli(argv);
      assert.equal(r.code, code);
      if (typeof stdout === 'string') assert.equal(r.stdout, stdout);
      else assert.match(r.stdout, stdout);
      assert.equal(r.stderr, '');
    });
  }

  for (const name of ['nope', '__proto__', 'toString']) {
    it(`imggate ${name}: unknown command, exit ${EXIT.usage}`, async function () {
      const r = await cli([name]);
      assert.equal(r.code, EXIT.usage);
      assert.ok(r.stderr.startsWith(`imggate: unknown command "${name}"\n`), r.stderr);
    });
  }

  it('a command name from the command line reaches the terminal escaped', async function () {
    const r = await cli(['\u001b[2Jcheck']);
    assert.ok(r.stderr.startsWith('imggate: unknown command "\\e[2Jcheck"'), r.stderr);
  });
});

/**
 * What a start loads, seen by a module resolve hook in the real CLI process: `version` and the help
 * texts must stay off the config schema, the registry client and every dependency. The CLI runs
 * bundled when the bundle is current (bin/imggate.js): a bundle file stands for the modules esbuild
 * put in it (its metafile, dist/cli/meta.json), so the same expectations hold either way.
 */
describe('modules each start loads', function () {
  this.timeout(60_000);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-modules-'));
    await writeFile(
      path.join(dir, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(log, resolved.url + '\\n');
  return resolved;
}
`,
    );
    await writeFile(
      path.join(dir, 'register.mjs'),
      `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(path.join(dir, 'hooks.mjs')).href)}, { data: { log: process.env.MODULE_LOG } });
`,
    );
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  /** The build's modules behind the files a run loaded (package-relative, sorted): each bundle file stands for its inputs. */
  const sourceModules = async (urls: readonly string[]): Promise<string[]> => {
    const meta = JSON.parse(await readFile(path.join(root, 'dist/cli/meta.json'), 'utf8').catch(() => '{}')) as { outputs?: Record<string, { inputs: Record<string, unknown> }> };
    const files = [...new Set(urls.filter((url) => url.startsWith('file:')))].map((url) => path.relative(root, fileURLToPath(url))).filter((file) => file !== 'bin/imggate.js');
    return [...new Set(files.flatMap((file) => (file.startsWith('dist/cli/') ? Object.keys(meta.outputs?.[file]?.inputs ?? { [`(unknown bundle file) ${file}`]: 0 }) : [file])))].sort();
  };

  const cases: Array<[string[], string[]]> = [
    [['version'], ['src/cli/exit-codes.js', 'src/cli/main.js', 'src/package-root.js', 'src/version.js']],
    [['--help'], ['src/cli/exit-codes.js', 'src/cli/help.js', 'src/cli/main.js']],
    [['help', 'serve'], ['src/cli/exit-codes.js', 'src/cli/help.js', 'src/cli/main.js']],
    [['check', '--help'], ['src/cli/exit-codes.js', 'src/cli/help.js', 'src/cli/main.js']],
  ];
  for (const [argv, expected] of cases) {
    it(`imggate ${argv.join(' ')}: ${expected.join(', ')}`, async function () {
      const log = path.join(dir, `${argv.join('-')}.log`);
      await writeFile(log, '');
      const r = await run(process.execPath, ['--import', path.join(dir, 'register.mjs'), path.join(root, 'bin/imggate.js'), ...argv], {
        env: { ...process.env, MODULE_LOG: log, NODE_OPTIONS: '' },
      });
      assert.equal(r.code, 0, r.stderr);
      const loaded = await sourceModules((await readFile(log, 'utf8')).split('\n'));
      assert.deepEqual(loaded, expected.map((file) => `dist/${file}`));
    });
  }

  it('runs bundled (dist/cli) when the bundle is as new as every module it was made from, and from dist/src once one is newer', async function () {
    const entry = async (): Promise<string[]> => {
      const log = path.join(dir, 'entry.log');
      await writeFile(log, '');
      const r = await run(process.execPath, ['--import', path.join(dir, 'register.mjs'), path.join(root, 'bin/imggate.js'), 'version'], { env: { ...process.env, MODULE_LOG: log, NODE_OPTIONS: '' } });
      assert.equal(r.code, 0, r.stderr);
      return (await readFile(log, 'utf8')).split('\n').filter((url) => /\/dist\/(cli|src\/cli)\/main\.js$/.test(url)).map((url) => path.relative(root, fileURLToPath(url)));
    };
    assert.deepEqual(await entry(), ['dist/cli/main.js'], 'npm run build made a bundle that is current');
    // A module rebuilt after the bundle (tsc alone) makes it stale: the CLI runs what tsc wrote.
    const input = path.join(root, 'dist/src/version.js');
    const before = await stat(input);
    await utimes(input, before.atime, new Date(Date.now() + 60_000));
    try {
      assert.deepEqual(await entry(), ['dist/src/cli/main.js']);
    } finally {
      await utimes(input, before.atime, before.mtime);
    }
    assert.deepEqual(await entry(), ['dist/cli/main.js']);
  });

  it('imggate check of an image without rpm database, under a trust policy that verifies nothing: neither Sigstore nor sql.js is loaded, in either thread', async function () {
    const image = await buildImage({ layers: [{ entries: [{ name: 'etc/hello.txt', content: 'hello\n' }] }] });
    const layout = path.join(dir, 'layout');
    await writeOciLayout(layout, 'app', image);
    const log = path.join(dir, 'check.log');
    await writeFile(log, '');
    const home = path.join(dir, 'home');
    const rules = await rulesWithoutFeeds();
    const r = await run(
      process.execPath,
      ['--import', path.join(dir, 'register.mjs'), path.join(root, 'bin/imggate.js'), 'check', '--offline', '--no-attest', '--quiet', '--rules', rules, `oci:${layout}:app`],
      { env: { ...process.env, MODULE_LOG: log, NODE_OPTIONS: '', XDG_DATA_HOME: home, XDG_CONFIG_HOME: path.join(dir, 'no-config') } },
    ).finally(() => rm(rules, { recursive: true, force: true }));
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    const loaded = (await readFile(log, 'utf8')).split('\n');
    // The hook saw the check's own thread (the analyzers) as well as the CLI's.
    assert.ok((await sourceModules(loaded)).includes('dist/src/scan/engine.js'), 'the check thread was not observed');
    assert.deepEqual(loaded.filter((url) => /node_modules\/(@sigstore|sql\.js|tuf-js)\//.test(url)), []);
  });

  it('imggate check with its rule files and config read before: neither yaml, regexp-tree nor the config schema is loaded (the rules and config caches), and the report is the same', async function () {
    const image = await buildImage({ layers: [{ entries: [{ name: 'etc/hello.txt', content: 'hello\n' }] }] });
    const layout = path.join(dir, 'layout-cache');
    await writeOciLayout(layout, 'app', image);
    const rules = await rulesWithoutFeeds();
    const cache = path.join(dir, 'cache');
    const config = path.join(dir, 'cached.yaml');
    await writeFile(config, 'limits:\n  maxFileBytes: 2MiB\n');
    const check = async (name: string): Promise<{ loaded: string[]; report: { findings: unknown[]; policy?: unknown } }> => {
      const log = path.join(dir, `${name}.log`);
      await writeFile(log, '');
      const r = await run(
        process.execPath,
        ['--import', path.join(dir, 'register.mjs'), path.join(root, 'bin/imggate.js'), 'check', '--offline', '--no-attest', '--no-cache', '--format', 'json', '--config', config, '--rules', rules, `oci:${layout}:app`],
        { env: { ...process.env, MODULE_LOG: log, NODE_OPTIONS: '', XDG_DATA_HOME: path.join(dir, 'home-cache'), XDG_CACHE_HOME: cache, XDG_CONFIG_HOME: path.join(dir, 'no-config') } },
      );
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      const report = JSON.parse(r.stdout) as { findings: unknown[]; policy?: unknown };
      return { loaded: (await readFile(log, 'utf8')).split('\n'), report };
    };
    try {
      const libraries = async (loaded: string[]): Promise<string[]> => {
        const found = loaded.map((url) => /node_modules\/(yaml|regexp-tree)\//.exec(url)?.[1]).filter((m): m is string => m !== undefined);
        if ((await sourceModules(loaded)).includes('dist/src/config/schema.js')) found.push('config/schema');
        return [...new Set(found)].sort();
      };
      const first = await check('rules-first');
      assert.deepEqual(await libraries(first.loaded), ['config/schema', 'regexp-tree', 'yaml'], 'a first run reads the rule files and the config');
      const second = await check('rules-second');
      assert.ok((await sourceModules(second.loaded)).includes('dist/src/scan/engine.js'), 'the check thread was not observed');
      assert.deepEqual(await libraries(second.loaded), [], 'a second run takes the rules and the config from the cache');
      assert.deepEqual(second.report.findings, first.report.findings);
      assert.deepEqual(second.report.policy, first.report.policy);
    } finally {
      await rm(rules, { recursive: true, force: true });
    }
  });
});
