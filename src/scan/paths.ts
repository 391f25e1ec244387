import { posix } from 'node:path';

/**
 * The absolute path a runtime applies a tar entry at: rooted, `.` and `..` resolved, never above `/`
 * (`../../etc/passwd` lands on `/etc/passwd`, as containerd's and moby's appliers clamp it).
 */
export function normalizeEntryPath(name: string): string {
  return goClean(`/${name}`);
}

/** Go's path.Clean (what containerd cleans tar names with, and continuity's RootPath its joins; never a hard link's target). */
export function goClean(path: string): string {
  if (path === '') return '.';
  const normalized = posix.normalize(path);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/**
 * Whether a tar name, cleaned as containerd cleans it (Go's filepath.Clean), is rooted: `/etc/x`, or
 * `../etc/x`, which continuity's RootPath takes from the root too. containerd places such a name
 * differently from a relative one when a link on its way has a `..` in its target (RootPath cleans a
 * rooted link's target as text, and walks a relative one), so the engine keeps the difference.
 */
export function isRootedName(name: string): boolean {
  const cleaned = posix.normalize(name);
  return cleaned.startsWith('/') || cleaned === '..' || cleaned.startsWith('../');
}

export const OPAQUE_WHITEOUT = '.wh..wh..opq';
export const WHITEOUT_PREFIX = '.wh.';

export type Whiteout = ({ readonly kind: 'opaque'; readonly dir: string } | { readonly kind: 'delete'; readonly path: string }) & {
  /** The tar name was rooted (`isRootedName`). */
  readonly rooted?: true;
};

/** Classifies an OCI/AUFS whiteout entry; `.wh..wh.*` metadata other than the opaque marker is ignored. */
export function whiteoutOf(path: string): Whiteout | 'ignore' | undefined {
  const base = posix.basename(path);
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  const dir = posix.dirname(path);
  if (base === OPAQUE_WHITEOUT) return { kind: 'opaque', dir };
  if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return 'ignore';
  const target = base.slice(WHITEOUT_PREFIX.length);
  if (target === '' || target === '.' || target === '..') return 'ignore';
  return { kind: 'delete', path: posix.join(dir, target) };
}
