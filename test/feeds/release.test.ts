import assert from 'node:assert/strict';
import { checkFreshness, parseRelease } from '../../src/feeds/release.js';

const release = (extra: string): string => `Origin: Debian\nSuite: oldstable-security\nCodename: bookworm-security\n${extra}Acquire-By-Hash: yes\nSHA256:\n ${'a'.repeat(64)}  2559141 main/binary-amd64/Packages\n ${'b'.repeat(64)}   383216 main/binary-amd64/Packages.xz\n`;

describe('Release files: freshness and replay', () => {
  const now = new Date('2026-11-29T12:00:00Z');
  it('reads the fields the fetch relies on', () => {
    const r = parseRelease(release('Date: Sat, 28 Nov 2026 02:53:00 UTC\nValid-Until: Sat, 05 Dec 2026 02:53:00 UTC\n'));
    assert.equal(r.byHash, true);
    assert.equal(r.origin, 'Debian');
    assert.deepEqual([...r.files.keys()], ['main/binary-amd64/Packages', 'main/binary-amd64/Packages.xz']);
    assert.equal(r.files.get('main/binary-amd64/Packages.xz')?.size, 383216);
    assert.equal(r.validUntilMs, Date.parse('2026-12-05T02:53:00Z'));
  });

  const cases: Array<{ name: string; fields: string; previous?: string; error?: RegExp }> = [
    { name: 'fresh', fields: 'Date: Sat, 28 Nov 2026 02:53:00 UTC\nValid-Until: Sat, 05 Dec 2026 02:53:00 UTC\n' },
    { name: 'no Valid-Until (the point release)', fields: 'Date: Sat, 11 Jul 2026 10:16:37 UTC\n' },
    { name: 'expired', fields: 'Date: Sat, 14 Nov 2026 02:53:00 UTC\nValid-Until: Sat, 21 Nov 2026 02:53:00 UTC\n', error: /FEED_STALE|expired at Sat, 21 Nov 2026/ },
    { name: 'dated in the future', fields: 'Date: Sun, 06 Dec 2026 00:00:00 UTC\n', error: /in the future/ },
    { name: 'replayed (older than held)', fields: 'Date: Fri, 27 Nov 2026 02:53:00 UTC\nValid-Until: Fri, 04 Dec 2026 02:53:00 UTC\n', previous: 'Sat, 28 Nov 2026 02:53:00 UTC', error: /older than the Sat, 28 Nov 2026 02:53:00 UTC already fetched/ },
    { name: 'same state again', fields: 'Date: Sat, 28 Nov 2026 02:53:00 UTC\n', previous: 'Sat, 28 Nov 2026 02:53:00 UTC' },
  ];
  for (const c of cases) {
    it(`${c.error ? 'refuses' : 'accepts'} a Release ${c.name}`, () => {
      const run = (): void => checkFreshness(parseRelease(release(c.fields)), 'test', now, c.previous ? { date: c.previous, digest: 'sha256:x' } : undefined);
      if (c.error) assert.throws(run, c.error);
      else assert.doesNotThrow(run);
    });
  }
});
