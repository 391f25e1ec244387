import { parseOsRelease } from '../../src/packages/parsers.js';
import type { OsInfo } from '../../src/packages/types.js';
import type { Finding } from '../../src/report/types.js';
import { rootEquivalentCapabilities } from '../../src/scan/analyzers/privileges/capabilities.js';
import { parseSpecial, type OracleResult } from './oracle.js';

/**
 * The differential rule: no image that the runtime (either snapshotter) runs as root, or with a
 * setuid/setgid file or a root-equivalent capability file, may pass imggate. Returns what imggate
 * missed (empty when it agrees). The generated images carry no package database, so every such file
 * is unpackaged and must block.
 */
export function missed(oracle: OracleResult, findings: readonly Finding[]): string[] {
  const out: string[] = [];
  const blocking = findings.filter((f) => f.blocking);
  const privileged = blocking.filter((f) => f.check === 'setuid' || f.check === 'setgid' || f.check === 'capability');
  for (const [name, view] of Object.entries(oracle)) {
    if (view.applyError) continue; // the runtime refuses the image: nothing runs
    for (const line of view.special) {
      const s = parseSpecial(line);
      const suid = (s.mode & 0o6000) !== 0;
      const rootCaps = s.caps ? rootEquivalentCapabilities(Buffer.from(s.caps, 'hex')) : [];
      if (!suid && (rootCaps === undefined ? false : rootCaps.length === 0)) continue;
      if (!privileged.some((f) => [' ', ')', ','].some((after) => f.message.includes(` ${s.path}${after}`)))) out.push(`${name}: ${line} not blocked`);
    }
    for (const [who, user] of [['runc', view.runcUser], ['containerd', view.containerdUser]] as const) {
      if (/^uid=0 /.test(user) && blocking.length === 0) out.push(`${name}: ${who} runs it as ${user}, imggate passes`);
    }
  }
  return out;
}

/**
 * The release rule: the release imggate judges end of life and advisories by is the one a process in
 * the container reads (/etc/os-release, else /usr/lib/os-release, through symlinks, per the oracle's
 * containerd-applied views); where the two snapshotters' views disagree, imggate must say so and block.
 */
export function releaseMissed(oracle: OracleResult, os: OsInfo | undefined, findings: readonly Finding[]): string[] {
  const name = (o: OsInfo | undefined): string => (o ? `${o.id} ${o.versionId ?? ''}`.trim() : 'none');
  const seen = new Map<string, string>();
  for (const [view, v] of Object.entries(oracle)) {
    if (v.applyError) continue;
    seen.set(view, name(v.osRelease ? parseOsRelease(v.osRelease) : undefined));
  }
  const distinct = new Set(seen.values());
  // imggate refusing to name one release (its views disagree) is always safe: it blocks.
  if (findings.some((f) => f.rule === 'os-release-ambiguous' && f.blocking)) return [];
  if (distinct.size > 1) return [`the views read different releases (${[...seen].map(([v, r]) => `${v}: ${r}`).join(', ')}) and imggate did not block`];
  const runtime = [...distinct][0];
  if (runtime === undefined) return [];
  // An os-release imggate could not read is reported (os-release-unreadable); it does not claim a release.
  if (findings.some((f) => f.rule === 'os-release-unreadable')) return [];
  return name(os) === runtime ? [] : [`the runtime reads release "${runtime}", imggate judged "${name(os)}"`];
}

/**
 * The PATH rule: no image whose runtime view (`runtimeWorldWritable`) has a world-writable directory of
 * the default PATH, or a world-writable file right in one, may pass imggate.
 */
export function worldWritableMissed(runtime: { readonly overlay?: readonly string[]; readonly naive?: readonly string[] }, findings: readonly Finding[]): string[] {
  if (findings.some((f) => f.rule === 'world-writable-path' && f.blocking)) return [];
  return Object.entries(runtime).flatMap(([view, found]) => (found ?? []).map((what) => `${view}: ${what} is world-writable and imggate passes`));
}
