import type { Analyzer, AnalyzerRun, EntryInfo, FindingSink, ImageView } from '../../analyzer.js';

interface Copy {
  readonly layerIndex: number;
  readonly path: string;
  readonly text: string;
}

const FILES = new Set(['/etc/passwd', '/etc/group']);
const MAX_BYTES = 4 * 1024 * 1024;

/** `name:x:uid:gid:…` records of /etc/passwd or /etc/group, by name, as libcontainer reads them. */
function parseDb(text: string | undefined): Map<string, { id: number; gid?: number }> {
  const out = new Map<string, { id: number; gid?: number }>();
  for (const line of (text ?? '').split('\n')) {
    if (line.startsWith('#') || !line.includes(':')) continue;
    const [name, , id, gid] = line.split(':');
    const n = Number(id);
    if (!name || !/^[0-9]+$/.test(id ?? '') || !Number.isSafeInteger(n) || out.has(name)) continue;
    out.set(name, { id: n, ...(gid !== undefined && /^[0-9]+$/.test(gid) ? { gid: Number(gid) } : {}) });
  }
  return out;
}

export interface ResolvedUser {
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  readonly problem?: string;
}

/**
 * Resolves a config `User` the way runc does at start: empty means root; a number is taken as is; a
 * name must be in the image's final /etc/passwd (else the container cannot start); the group is the
 * named or numeric one, or else the user's primary group (0 for a numeric uid not in passwd).
 */
export function resolveUser(user: string, passwd: string | undefined, group: string | undefined): ResolvedUser {
  const [userPart = '', groupPart] = user.split(':', 2);
  const users = parseDb(passwd);
  let uid: number | undefined;
  let primary: number | undefined;
  if (userPart === '') {
    uid = 0;
    primary = users.get('root')?.gid ?? 0;
  } else if (/^[0-9]+$/.test(userPart)) {
    uid = Number(userPart);
    primary = [...users.values()].find((u) => u.id === uid)?.gid ?? 0;
  } else {
    const entry = users.get(userPart);
    if (!entry) return { uid: undefined, gid: undefined, problem: `user "${userPart}" is not in the image's /etc/passwd` };
    uid = entry.id;
    primary = entry.gid ?? 0;
  }
  if (groupPart === undefined || groupPart === '') return { uid, gid: primary };
  if (/^[0-9]+$/.test(groupPart)) return { uid, gid: Number(groupPart) };
  const entry = parseDb(group).get(groupPart);
  if (!entry) return { uid, gid: undefined, problem: `group "${groupPart}" is not in the image's /etc/group` };
  return { uid, gid: entry.id };
}

function finalText(copies: readonly Copy[], path: string, image: ImageView): string | undefined {
  return copies.find((c) => c.path === path && image.fs.isInFinal(c.path, c.layerIndex))?.text;
}

/** The identity the container process gets from the image's `User`, read against the image's own files. */
export const rootUserAnalyzer: Analyzer = {
  id: 'root-user',
  version: 1,
  description: 'the user a container of the image runs as',
  create(): AnalyzerRun {
    const copies: Copy[] = [];
    return {
      wants: (entry: EntryInfo) => (entry.type === 'file' && FILES.has(entry.path) ? { contentBytes: MAX_BYTES } : undefined),
      analyzeEntry(entry, content) {
        if (content) copies.push({ layerIndex: entry.layerIndex, path: entry.path, text: content.toString('utf8') });
      },
      finish(image, sink: FindingSink) {
        const user = image.config.config?.User ?? '';
        const shown = user === '' ? 'no USER (the default, root)' : `USER "${user}"`;
        const resolved = resolveUser(user, finalText(copies, '/etc/passwd', image), finalText(copies, '/etc/group', image));
        if (resolved.problem) {
          sink.report({ check: 'root-user', rule: 'user-not-found', severity: 'high', blocking: true, message: `${shown}: ${resolved.problem}; the runtime will refuse to start it` });
          return;
        }
        if (resolved.uid === 0) {
          sink.report({ check: 'root-user', rule: 'root-user', severity: 'high', blocking: true, message: `${shown}: the container runs as root (uid 0${resolved.gid !== undefined ? `, gid ${resolved.gid}` : ''})` });
        } else if (resolved.gid === 0) {
          sink.report({ check: 'root-user', rule: 'root-group', severity: 'medium', blocking: false, message: `${shown}: runs as uid ${resolved.uid} with the root group (gid 0)` });
        }
      },
    };
  },
};
