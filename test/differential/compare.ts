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
      if (!privileged.some((f) => f.message.includes(` ${s.path} `))) out.push(`${name}: ${line} not blocked`);
    }
    for (const [who, user] of [['runc', view.runcUser], ['containerd', view.containerdUser]] as const) {
      if (/^uid=0 /.test(user) && blocking.length === 0) out.push(`${name}: ${who} runs it as ${user}, imggate passes`);
    }
  }
  return out;
}
