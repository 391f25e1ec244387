import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CACHE_DIR } from './debian.js';
import { run, which, type RunResult } from './process.js';

/**
 * The real cosign (Debian trixie's 2.5.0 package; .ci/run fetches and verifies it). Tests that need it
 * skip when it is missing, unless IMGGATE_REQUIRE_COSIGN=1 (set by .ci/run) makes that a failure.
 */
export async function findCosign(): Promise<string | undefined> {
  const candidates = [process.env['IMGGATE_TEST_COSIGN'], path.join(CACHE_DIR, 'cosign', 'cosign')].filter((c): c is string => !!c);
  for (const c of candidates) if (existsSync(c)) return c;
  if (await which('cosign')) return 'cosign';
  if (process.env['IMGGATE_REQUIRE_COSIGN'] === '1') throw new Error('cosign is required (IMGGATE_REQUIRE_COSIGN=1) but was not found');
  return undefined;
}

/**
 * A trusted root with no authorities: cosign then verifies against the --key alone, without asking
 * the public-good TUF repository (unreachable here) for one.
 */
export async function emptyTrustedRoot(dir: string): Promise<string> {
  const file = path.join(dir, 'empty-trusted-root.json');
  await writeFile(file, JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1' }));
  return file;
}

export function cosign(binary: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  // No Docker config, no TUF cache in the user's home, no update checks.
  return run(binary, args, { env: { ...process.env, DOCKER_CONFIG: '/nonexistent', TUF_ROOT: path.join(CACHE_DIR, 'cosign-tuf'), ...env } });
}
