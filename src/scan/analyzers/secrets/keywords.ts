import { Prefilter } from './prefilter.js';

/** Each byte as the prefilter reads it: ASCII lowercased, anything else 0 (no keyword holds NUL). */
const FOLD = (() => {
  const fold = new Uint8Array(256);
  for (let b = 1; b < 128; b++) fold[b] = b >= 65 && b <= 90 ? b + 32 : b;
  return fold;
})();

/** Characters past latin1: a string holding one is searched by the automaton (as bytes it would read differently). */
const PAST_LATIN1 = /[^\x00-\xff]/;

/** Where the WebAssembly prefilter serves: `auto` for inputs of MIN_PREFILTER_INPUT or more, `always`, or `never` (tests). */
export type PrefilterUse = 'auto' | 'always' | 'never';

/**
 * Below this many characters a call into the prefilter costs more than the automaton's loop (keyword-dense
 * text in pieces: 128 characters 180 against 286 MiB/s, 192 characters 463 against 397).
 */
const MIN_PREFILTER_INPUT = 256;

/**
 * Aho–Corasick over ASCII keywords, case-insensitive, as a full transition table: one table lookup
 * per character whatever the number of keywords, so the prefilter costs the same on keyword-dense
 * text as on any other. Characters outside ASCII match no keyword (keywords are ASCII). The inner loop
 * has no data-dependent branch but "a keyword ends here", which is rare: case folding is a table too,
 * so random bytes (compressed or encrypted files) do not defeat the branch predictor.
 *
 * Longer inputs go to the WebAssembly SIMD prefilter (`prefilter.c`), which finds the same hits in the
 * same order two to five times faster; the automaton serves where it cannot (short inputs, a string
 * with characters past latin1, a runtime without WebAssembly SIMD, keyword sets that do not fit it).
 */
export class KeywordSearch {
  /** The table's row width: `state << 7` is `state * 128` in the search loops. */
  static readonly #ALPHABET = 128;
  readonly #delta: Int32Array;
  /** 1 where some keyword ends in that state. */
  readonly #accepts: Uint8Array;
  /** For each state, the keywords that end there (its own and those of its suffix states). */
  readonly #out: ReadonlyArray<readonly number[] | undefined>;
  readonly #lengths: readonly number[];
  /** Built on the first input long enough to need it (a check that reads no layer never builds it); null when it cannot be. */
  #prefilter: Prefilter | null | undefined;
  readonly #keywords: readonly string[];
  readonly #minPrefilterInput: number;

  constructor(keywords: readonly string[], use: PrefilterUse = 'auto') {
    const A = KeywordSearch.#ALPHABET;
    const goto: Array<Map<number, number>> = [new Map()];
    const out: number[][] = [[]];
    this.#lengths = keywords.map((k) => k.length);
    keywords.forEach((keyword, index) => {
      let state = 0;
      for (const ch of keyword.toLowerCase()) {
        const c = ch.charCodeAt(0);
        if (c >= A || c === 0) throw new RangeError(`keyword "${keyword}" is not printable ASCII`);
        let next = goto[state]?.get(c);
        if (next === undefined) {
          next = goto.length;
          goto.push(new Map());
          out.push([]);
          goto[state]?.set(c, next);
        }
        state = next;
      }
      out[state]?.push(index);
    });
    const delta = new Int32Array(goto.length * A);
    const fail = new Int32Array(goto.length);
    // Breadth-first, so a state's failure state is complete before the state itself.
    const queue: number[] = [];
    for (let c = 0; c < A; c++) {
      const next = goto[0]?.get(c) ?? 0;
      delta[c] = next;
      if (next !== 0) queue.push(next);
    }
    for (let head = 0; head < queue.length; head++) {
      const state = queue[head] as number;
      const f = fail[state] as number;
      out[state]?.push(...(out[f] ?? []));
      for (let c = 0; c < A; c++) {
        const next = goto[state]?.get(c);
        if (next === undefined) {
          delta[state * A + c] = delta[f * A + c] as number;
        } else {
          delta[state * A + c] = next;
          fail[next] = delta[f * A + c] as number;
          queue.push(next);
        }
      }
    }
    this.#delta = delta;
    this.#out = out.map((o) => (o.length ? [...new Set(o)] : undefined));
    this.#accepts = Uint8Array.from(this.#out, (o) => (o ? 1 : 0));
    this.#keywords = keywords;
    this.#prefilter = use === 'never' ? null : undefined;
    this.#minPrefilterInput = use === 'always' ? 0 : MIN_PREFILTER_INPUT;
  }

  /** Whether the WebAssembly prefilter serves this keyword set. */
  get accelerated(): boolean {
    return this.#accelerator() !== null;
  }

  #accelerator(): Prefilter | null {
    if (this.#prefilter === undefined) this.#prefilter = Prefilter.create(this.#keywords.map((k) => Uint8Array.from(k.toLowerCase(), (ch) => ch.charCodeAt(0)))) ?? null;
    return this.#prefilter;
  }

  #report(state: number, end: number, hit: (keyword: number, start: number) => void): void {
    for (const k of this.#out[state] as readonly number[]) hit(k, end - (this.#lengths[k] as number));
  }

  /** Calls `hit(keywordIndex, start)` for every occurrence, overlapping ones included, in order of their end. */
  search(text: string, hit: (keyword: number, start: number) => void): void {
    if (text.length >= this.#minPrefilterInput && this.#prefilter !== null && !PAST_LATIN1.test(text) && this.#accelerator()?.search(text, hit)) return;
    const delta = this.#delta;
    const accepts = this.#accepts;
    let state = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      state = delta[(state << 7) | (code < 256 ? (FOLD[code] as number) : 0)] as number;
      if (accepts[state] !== 0) this.#report(state, i + 1, hit);
    }
  }

  /** `search` over bytes read as latin1 (one character a byte), without building a string. */
  searchBytes(bytes: Uint8Array, hit: (keyword: number, start: number) => void): void {
    if (bytes.length >= this.#minPrefilterInput && this.#prefilter !== null && this.#accelerator()?.search(bytes, hit)) return;
    const delta = this.#delta;
    const accepts = this.#accepts;
    let state = 0;
    for (let i = 0; i < bytes.length; i++) {
      state = delta[(state << 7) | (FOLD[bytes[i] as number] as number)] as number;
      if (accepts[state] !== 0) this.#report(state, i + 1, hit);
    }
  }
}
