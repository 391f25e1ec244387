// `npm run bundle` (part of `npm run build`): bundles the CLI's three entries — the command, the
// check's thread and serve's worker process — from tsc's output into dist/cli, split at each lazy
// import(), and writes esbuild's metafile beside them (dist/cli/meta.json) and the list of modules it
// was made from (dist/cli/inputs.json), by which bin/imggate.js tells whether the bundle is current.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const { dependencies } = JSON.parse(readFileSync('package.json', 'utf8'));
// Pure-JS libraries of many small modules that every check loads in both threads go into the bundle:
// resolving and reading their files was much of a start's cost. The rest stays in node_modules:
// native addons (better-sqlite3), wasm (sql.js), optional requires (pg), and libraries loaded only
// by the commands and paths that use them.
const INLINE = new Set(['zod', 'semver']);
const external = Object.keys(dependencies).filter((name) => !INLINE.has(name)).flatMap((name) => [name, `${name}/*`]);

// zod's namespace carries every locale's messages (about 360 KB, parsed at each start of both of a
// check's threads). imggate speaks English only (src/zod.ts configures it): the bundle's zod gets the
// English locale alone. Its other exports are zod's own.
const englishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core|mini)$/.test(args.resolveDir) ? { path: path.join(args.resolveDir, '../locales/index.js'), namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(path.join(path.dirname(args.path), 'en.js'))};\n`,
      resolveDir: path.dirname(args.path),
    }));
  },
};

const result = await build({
  entryPoints: ['dist/src/cli/main.js', 'dist/src/cli/check-worker.js', 'dist/src/server/worker-child.js'],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  external,
  outdir: 'dist/cli',
  entryNames: '[name]',
  metafile: true,
  logLevel: 'warning',
  plugins: [englishOnly],
});
// What went into each output file (the tests read it), and the build's own modules it was made from,
// the short list bin/imggate.js compares mtimes with on every start (node_modules changes only with
// npm install, which builds again).
writeFileSync('dist/cli/meta.json', JSON.stringify(result.metafile));
writeFileSync('dist/cli/inputs.json', JSON.stringify({ inputs: Object.keys(result.metafile.inputs).filter((input) => input.startsWith('dist/src/')) }));
