import type { EntryInfo, ImageView } from './analyzer.js';

/** Values a layer run keeps per entry, named by ordinal: the form facts take in the layer cache. */
export type PerEntry<T> = Array<[ordinal: number, value: T]>;

/** Bytes as facts carry them (JSON has no binary). */
export const toFact = (bytes: Buffer): string => bytes.toString('base64');
export const fromFact = (text: string): Buffer => Buffer.from(text, 'base64');

/**
 * Gathers what every layer's facts keep per entry, keyed by the entries of this image (so the
 * final filesystem's lookups find them). `pick` reads one layer's list out of its facts.
 */
export function perEntry<F, T, U = T>(image: ImageView, facts: readonly unknown[], pick: (facts: F) => PerEntry<T> | undefined, map: (value: T) => U = (v) => v as unknown as U): Map<EntryInfo, U> {
  const out = new Map<EntryInfo, U>();
  facts.forEach((f, layerIndex) => {
    for (const [ordinal, value] of (f === null || f === undefined ? undefined : pick(f as F)) ?? []) {
      const entry = image.entry(layerIndex, ordinal);
      if (!entry) throw new Error(`layer ${layerIndex + 1}'s facts name entry ${ordinal}, which the layer does not have`);
      out.set(entry, map(value));
    }
  });
  return out;
}
