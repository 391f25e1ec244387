import { ImggateError } from '../errors.js';
import { parseStanzas } from '../packages/parsers.js';

/** What a (verified) Release file says about its suite: fields the fetch relies on, and the index hashes. */
export interface ReleaseInfo {
  readonly origin?: string | undefined;
  readonly suite?: string | undefined;
  readonly codename?: string | undefined;
  /** `Date:` as written, and as a time. */
  readonly date?: string | undefined;
  readonly dateMs?: number | undefined;
  readonly validUntil?: string | undefined;
  readonly validUntilMs?: number | undefined;
  /** `Acquire-By-Hash: yes`: indexes are also served under `by-hash/SHA256/<hex>`, immutable. */
  readonly byHash: boolean;
  /** `SHA256:` lines: path relative to `dists/<suite>/` → hash and size. */
  readonly files: ReadonlyMap<string, { readonly sha256: string; readonly size: number }>;
}

function timeOf(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  // An unreadable date in a signed Release is a broken archive, not something to ignore.
  if (Number.isNaN(ms)) throw new ImggateError('MANIFEST_INVALID', `Release has an unreadable ${field}: "${value}"`);
  return ms;
}

/** Parses the signed text of an InRelease (or a Release file). */
export function parseRelease(text: string): ReleaseInfo {
  const fields = parseStanzas(text)[0] ?? new Map<string, string>();
  const files = new Map<string, { sha256: string; size: number }>();
  for (const line of (fields.get('SHA256') ?? '').split('\n')) {
    const [sha256, size, file] = line.trim().split(/\s+/);
    if (sha256 && size && file && /^[a-f0-9]{64}$/.test(sha256) && /^\d+$/.test(size)) files.set(file, { sha256, size: Number(size) });
  }
  const date = fields.get('Date');
  const validUntil = fields.get('Valid-Until');
  return {
    origin: fields.get('Origin'),
    suite: fields.get('Suite'),
    codename: fields.get('Codename'),
    date,
    dateMs: timeOf('Date', date),
    validUntil,
    validUntilMs: timeOf('Valid-Until', validUntil),
    byHash: (fields.get('Acquire-By-Hash') ?? '').toLowerCase() === 'yes',
    files,
  };
}

/** How far ahead of this machine's clock an archive's `Date:` may be before it is refused (clock skew). */
const MAX_CLOCK_SKEW_MS = 10 * 60_000;

/**
 * Refuses a Release that is expired (`Valid-Until` in the past), dated in the future, or older than the
 * snapshot already held (a replay: an attacker or a lagging mirror serving an earlier signed state,
 * which would hide updates published since). Each makes the feed stale, never "no updates".
 */
export function checkFreshness(release: ReleaseInfo, where: string, now: Date, previous?: { readonly date?: string | undefined; readonly digest: string }): void {
  const t = now.getTime();
  if (release.validUntilMs !== undefined && release.validUntilMs < t) {
    throw new ImggateError('FEED_STALE', `${where}: InRelease expired at ${release.validUntil} (Valid-Until); the archive or a mirror in between serves an old state`);
  }
  if (release.dateMs !== undefined && release.dateMs > t + MAX_CLOCK_SKEW_MS) {
    throw new ImggateError('FEED_STALE', `${where}: InRelease is dated ${release.date}, in the future of this machine's clock`);
  }
  const before = previous?.date === undefined ? undefined : Date.parse(previous.date);
  if (before !== undefined && !Number.isNaN(before) && release.dateMs !== undefined && release.dateMs < before) {
    throw new ImggateError('FEED_REPLAYED', `${where}: InRelease is dated ${release.date}, older than the ${previous?.date} already fetched: a replayed or rolled-back archive`);
  }
}
