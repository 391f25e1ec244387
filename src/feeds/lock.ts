import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { ImggateError } from '../errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether some process holds the store's feed lock now (an update or a refresh is under way). */
export async function feedLockHeld(storeDir: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path.join(storeDir, 'feeds', '.lock'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const owner = Number(text.trim());
  // A lock being written has no pid yet; one whose owner is gone is not held.
  return !Number.isInteger(owner) || owner <= 0 || alive(owner);
}

/**
 * Runs `fn` holding the store's feed lock (`<storeDir>/feeds/.lock`, created with O_EXCL and holding
 * the owner's pid), so many checks starting together fetch a feed once: the others wait, then find the
 * fresh snapshot. A lock left by a process that no longer exists is taken over.
 */
export async function withFeedLock<T>(storeDir: string, fn: () => Promise<T>, options: { waitMs?: number; pollMs?: number } = {}): Promise<T> {
  const dir = path.join(storeDir, 'feeds');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, '.lock');
  const deadline = Date.now() + (options.waitMs ?? 15 * 60_000);
  for (;;) {
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.writeFile(String(process.pid));
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      // A lock being written has no pid yet; only a lock whose owner is gone is taken over.
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && !alive(owner)) {
        await rm(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new ImggateError('FEED_LOCKED', `${file} is held by process ${owner || '?'}; another feed update is still running`);
      await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}
