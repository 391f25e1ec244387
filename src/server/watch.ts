/**
 * The repositories the reconcile loop watches, from `serve.reconcile.repositories`: `registry/path`
 * names one repository; a path with `*` (one path segment, or part of one) or `**` (any number of
 * segments) is matched against the registry's catalog.
 */
export interface WatchPattern {
  /** As configured, for messages. */
  readonly text: string;
  readonly registry: string;
  /** The repository when the pattern names exactly one. */
  readonly repository?: string | undefined;
  /** The matcher when it is a glob. */
  readonly glob?: RegExp | undefined;
}

const SEGMENT = /^[a-z0-9*]+(?:(?:[._]|__|-+)[a-z0-9*]+)*$|^\*\*$/;

/** Parses one pattern; the error says what is wrong with it. */
export function parseWatch(text: string): WatchPattern {
  const slash = text.indexOf('/');
  const registry = slash > 0 ? text.slice(0, slash) : '';
  const path = slash > 0 ? text.slice(slash + 1) : '';
  if (!registry || !path) throw new Error(`"${text}" is not registry/repository (e.g. registry.example.com/team/app or registry.example.com/team/*)`);
  const segments = path.split('/');
  const bad = segments.find((s) => !SEGMENT.test(s));
  if (bad !== undefined) throw new Error(`"${text}": "${bad}" is not a repository path segment (lowercase letters, digits, . _ -, and * or **)`);
  if (!path.includes('*')) return { text, registry, repository: path };
  const source = segments
    .map((s) => (s === '**' ? '.*' : s.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')))
    .join('/')
    // `team/**` is what is under team (one segment or more), not team itself.
    .replace(/\/\.\*/g, '/.+');
  return { text, registry, glob: new RegExp(`^${source}$`) };
}

/** The repositories of `catalog` (one registry's) that `pattern` names. */
export function matching(pattern: WatchPattern, catalog: readonly string[]): string[] {
  if (pattern.repository !== undefined) return [pattern.repository];
  return catalog.filter((name) => pattern.glob?.test(name));
}
