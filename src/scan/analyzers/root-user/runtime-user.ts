/**
 * How the two runtimes that matter turn an image's USER into a uid and gid, transcribed from their
 * code so that the gate reaches the same answer for any input, hostile ones included:
 *
 * - runc's libcontainer/user `GetExecUser` (what Docker/moby resolves USER with): passwd lines trimmed
 *   of Unicode white space, fields split on `:`, missing fields left at zero, number fields read with
 *   Go's `strconv.Atoi` and conversion errors ignored (so `nobody:x:abc:…` is uid 0), the first
 *   matching line wins;
 * - containerd 1.6's `oci.WithUser`/`WithUsername`/`WithUserID` (what Kubernetes runs): numbers read
 *   with `strconv.Atoi` and bounded to [0, 2^31-1], otherwise looked up by name; ids converted to
 *   uint32 as Go does (2^32 becomes 0).
 *
 * The kernel takes a 32-bit uid: a runc uid is judged after the same truncation.
 */

export interface RuntimeUser {
  readonly uid?: number;
  readonly gid?: number;
  /** Supplementary groups (runc's Sgids: the groups /etc/group lists the user in, for `USER name` alone). */
  readonly sgids?: readonly number[];
  readonly error?: string;
}

const MAX_ID = 2 ** 31 - 1;
/** bufio.Scanner's default limit: a longer passwd line makes the whole read fail. */
const MAX_SCAN_LINE = 64 * 1024 - 1;

/** Go's strconv.Atoi on a 64-bit machine: the value (clamped on overflow) and whether it parsed cleanly. */
export function goAtoi(text: string): { value: bigint; ok: boolean } {
  const match = /^([+-]?)([0-9]+)$/.exec(text);
  if (!match) return { value: 0n, ok: false };
  const magnitude = BigInt(match[2] as string);
  const negative = match[1] === '-';
  const value = negative ? -magnitude : magnitude;
  const max = (1n << 63n) - 1n;
  const min = -(1n << 63n);
  if (value > max) return { value: max, ok: false };
  if (value < min) return { value: min, ok: false };
  return { value, ok: true };
}

const toUint32 = (value: bigint): number => Number(BigInt.asUintN(32, value));

// unicode.IsSpace: the Latin-1 spaces and the Unicode White_Space property.
const GO_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;
const trimSpace = (s: string): string => s.replace(GO_SPACE, '');

interface PasswdLine {
  readonly name: string;
  readonly uid: bigint;
  readonly gid: bigint;
}

interface GroupLine {
  readonly name: string;
  readonly gid: bigint;
  readonly members: readonly string[];
}

/** runc's ParsePasswdFilter over the whole file; an error where bufio.Scanner would give one. */
export function parsePasswd(text: string): PasswdLine[] | { error: string } {
  const out: PasswdLine[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length > MAX_SCAN_LINE) return { error: 'a passwd line is longer than the runtime reads (bufio.Scanner: token too long)' };
    const trimmed = trimSpace(line);
    if (trimmed === '') continue;
    const parts = trimmed.split(':');
    out.push({ name: parts[0] ?? '', uid: goAtoi(parts[2] ?? '').value, gid: goAtoi(parts[3] ?? '').value });
  }
  return out;
}

/** runc's ParseGroupFilter: like passwd, but `#` comments are skipped and lines may be of any length. */
export function parseGroup(text: string): GroupLine[] {
  const out: GroupLine[] = [];
  for (const raw of text.split('\n')) {
    const line = trimSpace(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(':');
    const list = parts[3] ?? '';
    out.push({ name: parts[0] ?? '', gid: goAtoi(parts[2] ?? '').value, members: list === '' ? [] : list.split(',') });
  }
  return out;
}

/** The image's files as the runtime opens them: undefined when absent, an error when unreadable. */
export interface UserFiles {
  readonly passwd: string | undefined | { error: string };
  readonly group: string | undefined | { error: string };
}

const isError = (v: unknown): v is { error: string } => typeof v === 'object' && v !== null && 'error' in v;

/** runc's GetExecUser with defaults uid 0, gid 0 (Docker's), ids as the kernel gets them (uint32). */
export function runcUser(userSpec: string, files: UserFiles): RuntimeUser {
  const specParts = userSpec.split(':');
  const userArg = specParts[0] ?? '';
  const groupArg = specParts[1] ?? '';
  const uidArg = goAtoi(userArg);
  const gidArg = goAtoi(groupArg);
  let uid = 0n;
  let gid = 0n;
  let matchedName = '';
  if (isError(files.passwd)) return { error: `unable to find user ${userArg || '0'}: ${files.passwd.error}` };
  const users = files.passwd === undefined ? [] : parsePasswd(files.passwd);
  if (isError(users)) return { error: `unable to find user ${userArg || '0'}: ${users.error}` };
  const matched = users.find((u) => (userArg === '' ? u.uid === 0n : uidArg.ok ? u.uid === uidArg.value : u.name === userArg));
  if (matched) {
    matchedName = matched.name;
    uid = matched.uid;
    gid = matched.gid;
  } else if (userArg !== '') {
    if (!uidArg.ok) return { error: `unable to find user ${userArg}: no matching entries in passwd file` };
    uid = uidArg.value;
    if (uid < 0n || uid > BigInt(MAX_ID)) return { error: 'uids and gids must be in range 0-2147483647' };
  }
  let sgids: number[] = [];
  if (groupArg !== '' || matchedName !== '') {
    if (isError(files.group)) return { error: `unable to find groups for spec ${matchedName}: ${files.group.error}` };
    const groups = files.group === undefined ? [] : parseGroup(files.group);
    if (groupArg !== '') {
      const g = groups.find((x) => (gidArg.ok ? x.gid === gidArg.value : x.name === groupArg));
      if (g) gid = g.gid;
      else {
        if (!gidArg.ok) return { error: `unable to find group ${groupArg}: no matching entries in group file` };
        gid = gidArg.value;
        if (gid < 0n || gid > BigInt(MAX_ID)) return { error: 'uids and gids must be in range 0-2147483647' };
      }
    } else {
      // Supplementary groups only in the implicit form: every group that lists the user's name (runc's
      // setupUser then calls setgroups with them).
      sgids = groups.filter((g) => g.members.includes(matchedName)).map((g) => toUint32(g.gid));
    }
  }
  return { uid: toUint32(uid), gid: toUint32(gid), ...(sgids.length ? { sgids } : {}) };
}

/** containerd 1.6.20's WithUser and the helpers it calls, on the image's own files. */
export function containerdUser(userSpec: string, files: UserFiles): RuntimeUser {
  const parts = userSpec.split(':');
  const numeric = (s: string): number | undefined => {
    const r = goAtoi(s);
    return r.ok && r.value >= 0n && r.value <= BigInt(MAX_ID) ? Number(r.value) : undefined;
  };
  const passwd = (): PasswdLine[] | { error: string } => {
    if (files.passwd === undefined) return { error: 'no /etc/passwd' };
    if (isError(files.passwd)) return files.passwd;
    return parsePasswd(files.passwd);
  };
  const byName = (name: string): PasswdLine | { error: string } => {
    const users = passwd();
    if (isError(users)) return users;
    return users.find((u) => u.name === name) ?? { error: `no users found matching "${name}"` };
  };
  if (parts.length === 1) {
    if (userSpec === '') return { uid: 0, gid: 0 };
    const v = numeric(userSpec);
    if (v === undefined) {
      const u = byName(userSpec);
      return isError(u) ? { error: u.error } : { uid: toUint32(u.uid), gid: toUint32(u.gid) };
    }
    const users = passwd();
    const u = isError(users) ? undefined : users.find((x) => x.uid === BigInt(v));
    return u ? { uid: toUint32(u.uid), gid: toUint32(u.gid) } : { uid: v, gid: 0 };
  }
  if (parts.length === 2) {
    const [userPart = '', groupPart = ''] = parts;
    let uid = numeric(userPart) ?? 0;
    let gid = numeric(groupPart) ?? 0;
    if (numeric(userPart) === undefined && userPart !== '') {
      const u = byName(userPart);
      if (isError(u)) return { error: u.error };
      uid = toUint32(u.uid);
    }
    if (numeric(groupPart) === undefined && groupPart !== '') {
      if (files.group === undefined || isError(files.group)) return { error: 'group not found' };
      const g = parseGroup(files.group).find((x) => x.name === groupPart);
      if (!g) return { error: 'group not found' };
      gid = toUint32(g.gid);
    }
    return { uid, gid };
  }
  return { error: `invalid USER value "${userSpec}"` };
}
