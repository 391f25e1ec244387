/**
 * A small seeded generator (mulberry32) for the differential tests: the same seed gives the same
 * cases on every machine, so a CI failure can be replayed with IMGGATE_DIFF_SEED.
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How many generated cases and which seed: a fixed seed and count in CI, more on request. */
export function diffRuns(defaultRuns: number): { runs: number; seed: number } {
  return { runs: Number(process.env['IMGGATE_DIFF_RUNS'] ?? defaultRuns), seed: Number(process.env['IMGGATE_DIFF_SEED'] ?? 20261129) };
}
