#!/usr/bin/env node
import { readFileSync, statSync } from 'node:fs';
import module from 'node:module';

// Node ≥ 22.1 keeps V8's compiled code of each module on disk (os.tmpdir()/node-compile-cache, or
// $NODE_COMPILE_CACHE), which shortens every later start; Node 20 has no such cache and skips this.
// The check's thread and serve's worker processes inherit the directory through the environment.
const cache = module.enableCompileCache?.();
if (cache?.directory && process.env.NODE_COMPILE_CACHE === undefined) process.env.NODE_COMPILE_CACHE = cache.directory;

// A reader that stops early (`imggate sbom … | head`) is not an error worth a stack trace.
process.stdout.on('error', (err) => {
  if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

// The CLI bundled (dist/cli, `npm run bundle`: a few files instead of ~175 modules to resolve and load in
// each thread) when it was made from the build that is there now (dist/cli/inputs.json: the modules it
// was made from, none newer than the list); otherwise the modules as tsc wrote them.
function bundleIsCurrent() {
  const root = new URL('../', import.meta.url);
  try {
    const meta = new URL('dist/cli/inputs.json', root);
    const made = statSync(meta).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(meta, 'utf8'));
    return Array.isArray(inputs) && inputs.length > 0 && inputs.every((input) => statSync(new URL(input, root)).mtimeMs <= made);
  } catch {
    return false;
  }
}

// Imported only now, so that the cache above already serves the CLI's own modules.
const { main } = await import(bundleIsCurrent() ? '../dist/cli/main.js' : '../dist/src/cli/main.js');
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`imggate: internal error: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 2;
  },
);
