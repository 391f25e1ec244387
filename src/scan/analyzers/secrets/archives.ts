import { gunzipSync } from 'node:zlib';
import { ImggateError } from '../../../errors.js';
import { MAX_MEMBER_BYTES, members, readMember, type InflateBudget } from '../../../packages/zip.js';

export type ArchiveKind = 'gzip' | 'zip';

/** What a file is by its first bytes: a gzip stream or a zip (jar, war, wheel…). */
export function archiveKind(head: Buffer): ArchiveKind | undefined {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
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
export function* inflateMembers(bytes: Buffer, budget: InflateBudget, signal?: AbortSignal, prefix = '', depth = NESTING): Generator<Member> {
  const kind = archiveKind(bytes);
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

function gunzipMember(bytes: Buffer, budget: InflateBudget, name: string): Member {
  const cap = Math.min(MAX_MEMBER_BYTES, budget.remaining);
  try {
    const out = gunzipSync(bytes, { maxOutputLength: Math.max(1, cap) });
    budget.remaining -= out.length;
    return { name, bytes: out };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') return { name, why: `it cannot be decompressed: ${(err as Error).message}` };
    if (cap < MAX_MEMBER_BYTES) {
      throw new ImggateError('LIMIT_EXCEEDED', `${budget.what}: its members inflate to more than ${budget.limit} bytes (limits.maxArchiveInflate)`);
    }
    return { name, why: `it decompresses to more than ${MAX_MEMBER_BYTES} bytes` };
  }
}
