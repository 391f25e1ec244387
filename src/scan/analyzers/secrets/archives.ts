import { gunzipSync, inflateSync } from 'node:zlib';
import { ImggateError } from '../../../errors.js';
import { MAX_MEMBER_BYTES, members, readMember, type InflateBudget } from '../../../packages/zip.js';

export type ArchiveKind = 'gzip' | 'zip' | 'git-object' | 'git-pack';

/** A git repository's loose object (zlib) and pack file, by path: history a `COPY .` ships with the image. */
export const GIT_OBJECT = /\/objects\/[0-9a-f]{2}\/[0-9a-f]{38}(?:[0-9a-f]{24})?$/;
export const GIT_PACK = /\/objects\/pack\/[^/]+\.pack$/;

/**
 * What a file is by its first bytes: a gzip stream or a zip (jar, war, wheel…); by its path as well, a
 * git object (a zlib stream) or pack. Archives inside archives are told by their bytes alone.
 */
export function archiveKind(head: Buffer, path = ''): ArchiveKind | undefined {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  // zlib: deflate with a window of at most 32 KiB, header checksum a multiple of 31.
  if (GIT_OBJECT.test(path) && head.length >= 2 && (head[0] as number) === 0x78 && ((head[0] as number) * 256 + (head[1] as number)) % 31 === 0) return 'git-object';
  if (GIT_PACK.test(path) && head.length >= 12 && head.toString('latin1', 0, 4) === 'PACK') return 'git-pack';
  return undefined;
}

/** One member of an archive (`name` joins nesting with `!/`): its bytes, or why they could not be read. */
export type Member = { readonly name: string; readonly bytes: Buffer; readonly why?: undefined } | { readonly name: string; readonly bytes?: undefined; readonly why: string };

/** Archives inside archives (a jar in a jar, a gzip in a zip) are opened this many levels deep. */
const NESTING = 2;

/**
 * The members of a gzip file or a zip, nested archives opened in turn, every byte inflated charged to
 * `budget` (`limits.maxArchiveInflate`: past it, `LIMIT_EXCEEDED` ends the check, as for the package
 * inventory). Members that share one local header (a bomb's shape: thousands of names over one
 * stream) are read once. A member that cannot be read is yielded with why, for the caller to fail
 * closed on.
 */
export function* inflateMembers(bytes: Buffer, budget: InflateBudget, signal?: AbortSignal, prefix = '', depth = NESTING, kind = archiveKind(bytes)): Generator<Member> {
  if (kind === 'git-object') {
    yield gitObject(bytes, 0, budget, prefix.replace(/!\/$/, '')).member;
    return;
  }
  if (kind === 'git-pack') {
    yield* packObjects(bytes, budget, signal);
    return;
  }
  if (kind === 'gzip') {
    const member = gunzipMember(bytes, budget, prefix.replace(/!\/$/, ''));
    if (member.bytes && depth > 0 && archiveKind(member.bytes)) yield* inflateMembers(member.bytes, budget, signal, `${prefix}!/`, depth - 1);
    else yield member;
    return;
  }
  if (kind !== 'zip') return;
  const seen = new Set<number>();
  for (const m of members(bytes)) {
    signal?.throwIfAborted();
    if (m.name.endsWith('/') || seen.has(m.localOffset)) continue;
    seen.add(m.localOffset);
    const name = `${prefix}${m.name}`;
    const read = readMember(bytes, m, budget);
    if (read.data && depth > 0 && archiveKind(read.data)) yield* inflateMembers(read.data, budget, signal, `${name}!/`, depth - 1);
    else yield read.data ? { name, bytes: read.data } : { name, why: read.why };
  }
}

/**
 * One stream inflated under the file's budget and MAX_MEMBER_BYTES: its bytes (and, when `inflate` says,
 * the input it used), or why it could not be read. Past the budget, `LIMIT_EXCEEDED` ends the check.
 */
function inflateCharged(budget: InflateBudget, noun: string, inflate: (max: number) => { out: Buffer; used?: number }): { out: Buffer; used?: number } | { why: string } {
  const cap = Math.min(MAX_MEMBER_BYTES, budget.remaining);
  try {
    const inflated = inflate(Math.max(1, cap));
    budget.remaining -= inflated.out.length;
    return inflated;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') return { why: `it cannot be decompressed: ${(err as Error).message}` };
    if (cap < MAX_MEMBER_BYTES) throw new ImggateError('LIMIT_EXCEEDED', `${budget.what}: its ${noun} inflate to more than ${budget.limit} bytes (limits.maxArchiveInflate)`);
    return { why: `it decompresses to more than ${MAX_MEMBER_BYTES} bytes` };
  }
}

function gunzipMember(bytes: Buffer, budget: InflateBudget, name: string): Member {
  const read = inflateCharged(budget, 'members', (max) => ({ out: gunzipSync(bytes, { maxOutputLength: max }) }));
  return 'why' in read ? { name, why: read.why } : { name, bytes: read.out };
}

/** The zlib stream at `at`: its bytes (a loose object's `type size\0` header cut off), and where it ended. */
function gitObject(bytes: Buffer, at: number, budget: InflateBudget, name: string, loose = true): { member: Member; end?: number } {
  const read = inflateCharged(budget, 'objects', (max) => {
    const { buffer, engine } = inflateSync(bytes.subarray(at), { maxOutputLength: max, info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    return { out: buffer, used: engine.bytesWritten };
  });
  if ('why' in read) return { member: { name, why: read.why } };
  return { member: { name, bytes: loose ? read.out.subarray(read.out.indexOf(0) + 1) : read.out }, end: at + (read.used ?? 0) };
}

/**
 * Every object of a git pack (git's pack-format: `PACK`, version, count, then each object's type and
 * size in a variable-length header and its zlib stream). Whole objects (commits, trees, blobs, tags)
 * give their content; deltas give their instructions, whose inserted bytes are the text a later version
 * added. An object that cannot be read ends the walk with why.
 */
function* packObjects(bytes: Buffer, budget: InflateBudget, signal?: AbortSignal): Generator<Member> {
  const count = bytes.readUInt32BE(8);
  let at = 12;
  for (let i = 0; i < count; i++) {
    signal?.throwIfAborted();
    const start = at;
    let byte = bytes[at++] ?? 0;
    const type = (byte >> 4) & 7;
    while (byte & 0x80) byte = bytes[at++] ?? 0;
    if (type === 6) while ((bytes[at++] ?? 0) & 0x80);
    const name = `object ${i + 1} (offset ${start})`;
    // A delta against a named base: the name is 20 bytes (SHA-1) or, in a SHA-256 repository, 32.
    const base = type === 7 ? [20, 32] : [0];
    let read: ReturnType<typeof gitObject> | undefined;
    for (const skip of base) {
      read = at + skip < bytes.length ? gitObject(bytes, at + skip, budget, name, false) : undefined;
      if (read?.member.bytes) break;
    }
    if (!read?.member.bytes || read.end === undefined) {
      yield read?.member ?? { name, why: 'the pack ends inside it' };
      return;
    }
    yield read.member;
    at = read.end;
  }
}
