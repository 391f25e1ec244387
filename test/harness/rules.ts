import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * The bundled rules with the policy a user without distribution feeds sets (`checks.feed.block:
 * false`): for tests about other checks; feeds have tests of their own.
 */
export async function rulesWithoutFeeds(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-rules-'));
  await cp('rules', dir, { recursive: true });
  const policy = await readFile(path.join(dir, 'policy.yaml'), 'utf8');
  if (!policy.includes('checks:\n')) throw new Error('rules/policy.yaml has no checks: section to extend');
  await writeFile(path.join(dir, 'policy.yaml'), policy.replace('checks:\n', 'checks:\n  feed: { block: false }\n'));
  return dir;
}
