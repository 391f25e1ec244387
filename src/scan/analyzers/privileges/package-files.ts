import { posix } from 'node:path';
import type { EntryInfo } from '../../analyzer.js';
import type { FinalFilesystem } from '../../filesystem.js';

const DPKG_LIST = /^\/var\/lib\/dpkg\/info\/[^/]+\.list$/;
const APK_INSTALLED = '/lib/apk/db/installed';

/** Whether an entry is a package database file that lists installed paths. */
export function isPackageFileList(path: string): boolean {
  return DPKG_LIST.test(path) || path === APK_INSTALLED;
}

/** Paths listed by one dpkg `.list` file (one absolute path a line). */
function dpkgPaths(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('/'));
}

/** Paths listed by apk's `installed` database (`F:` directory, `R:` file within it). */
function apkPaths(text: string): string[] {
  const out: string[] = [];
  let dir = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('F:')) dir = line.slice(2);
    else if (line.startsWith('R:')) out.push(`/${posix.join(dir, line.slice(2))}`);
    else if (line === '') dir = '';
  }
  return out;
}

/**
 * Collects package file lists as layers stream; the set of packaged paths comes from the copies in
 * the final filesystem only, each path resolved through symlinked directories (dpkg lists `/bin/su`
 * where a merged-/usr image has `/usr/bin/su`).
 */
export class PackagedFiles {
  readonly #lists = new Map<string, Array<{ layerIndex: number; text: string }>>();

  add(entry: EntryInfo, content: Buffer): void {
    const copies = this.#lists.get(entry.path) ?? [];
    copies.push({ layerIndex: entry.layerIndex, text: content.toString('utf8') });
    this.#lists.set(entry.path, copies);
  }

  paths(fs: FinalFilesystem): Set<string> {
    const packaged = new Set<string>();
    for (const [path, copies] of this.#lists) {
      const final = copies.find((c) => fs.isInFinal(path, c.layerIndex));
      if (!final) continue;
      const listed = path === APK_INSTALLED ? apkPaths(final.text) : dpkgPaths(final.text);
      for (const p of listed) packaged.add(fs.resolve(p));
    }
    return packaged;
  }
}
