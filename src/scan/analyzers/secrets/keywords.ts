/**
 * Aho–Corasick over ASCII keywords, case-insensitive, as a full transition table: one table lookup
 * per character whatever the number of keywords, so the prefilter costs the same on keyword-dense
 * text as on any other. Characters outside ASCII match no keyword (keywords are ASCII).
 */
export class KeywordSearch {
  static readonly #ALPHABET = 128;
  readonly #delta: Int32Array;
  /** For each state, the keywords that end there (its own and those of its suffix states). */
  readonly #out: ReadonlyArray<readonly number[] | undefined>;
  readonly #lengths: readonly number[];

  constructor(keywords: readonly string[]) {
    const A = KeywordSearch.#ALPHABET;
    const goto: Array<Map<number, number>> = [new Map()];
    const out: number[][] = [[]];
    this.#lengths = keywords.map((k) => k.length);
    keywords.forEach((keyword, index) => {
      let state = 0;
      for (const ch of keyword.toLowerCase()) {
        const c = ch.charCodeAt(0);
        if (c >= A) throw new RangeError(`keyword "${keyword}" is not ASCII`);
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
  }

  /** Calls `hit(keywordIndex, start)` for every occurrence, overlapping ones included, in order of their end. */
  search(text: string, hit: (keyword: number, start: number) => void): void {
    const A = KeywordSearch.#ALPHABET;
    const delta = this.#delta;
    const out = this.#out;
    let state = 0;
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= A) c = 0;
      else if (c >= 65 && c <= 90) c += 32;
      state = delta[state * A + c] as number;
      const found = out[state];
      if (found !== undefined) for (const k of found) hit(k, i + 1 - (this.#lengths[k] as number));
    }
  }

  /** `search` over bytes read as latin1 (one character a byte), without building a string. */
  searchBytes(bytes: Uint8Array, hit: (keyword: number, start: number) => void): void {
    const A = KeywordSearch.#ALPHABET;
    const delta = this.#delta;
    const out = this.#out;
    let state = 0;
    for (let i = 0; i < bytes.length; i++) {
      let c = bytes[i] as number;
      if (c >= A) c = 0;
      else if (c >= 65 && c <= 90) c += 32;
      state = delta[state * A + c] as number;
      const found = out[state];
      if (found !== undefined) for (const k of found) hit(k, i + 1 - (this.#lengths[k] as number));
    }
  }
}
