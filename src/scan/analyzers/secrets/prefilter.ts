import { PREFILTER_WASM } from './prefilter-wasm.js';

/** Where the tables start in the module's memory: past its stack (64 KiB, at the bottom). */
const TABLES = 128 * 1024;
// The tables' layout, as prefilter.c's tables_t declares it.
const LO = 0;
const HI = 64;
const KEYWORD_OFFSET = 128;
const MAX_KEYWORDS = 256;
const SLOT_START = KEYWORD_OFFSET + (MAX_KEYWORDS + 1) * 4;
const SLOTS = 65536;
const SLOT_KEYWORDS = SLOT_START + (SLOTS + 1) * 4;
const MAX_SLOT_ENTRIES = 65536;
const CHARS = SLOT_KEYWORDS + MAX_SLOT_ENTRIES * 2;
const MAX_CHARS = 8192;
const INPUT = TABLES + CHARS + MAX_CHARS;
/** NULs after the input: the module's loads read up to 19 bytes past its end. */
const PAD = 64;
/** Inputs larger than this go to the automaton: the module's memory never shrinks. */
const MAX_INPUT = 4 * 1024 * 1024;

/** prefilter.c's slot_of: the slot of four folded characters, the first in the low byte. */
const slotOf = (gram: number): number => Math.imul(gram, 0x9e3779b1) >>> 16;

/** What is used of the WebAssembly API (the project's TypeScript lib does not declare it). */
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: unknown };
}
const wasm = (globalThis as unknown as { readonly WebAssembly?: WasmApi }).WebAssembly;

interface Exports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  /** prefilter.c's slot_of, which `slotOf` must equal (a test holds them to it). */
  slot(gram: number): number;
  scan(tables: number, input: number, length: number, out: number, cap: number): number;
}

let compiled: object | null | undefined;

/** The module, compiled once; null where this runtime cannot (no WebAssembly, or none with SIMD). */
function prefilterModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = wasm ? new wasm.Module(Buffer.from(PREFILTER_WASM, 'base64')) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/**
 * The keyword prefilter compiled from prefilter.c: every occurrence of the keywords in a byte string,
 * in the order the automaton in keywords.ts reports them. One instance (its own memory) per keyword
 * set. `search` declines (returns false, having reported nothing) an input larger than MAX_INPUT or
 * with more occurrences than its output has room for; the caller then searches it itself.
 */
export class Prefilter {
  readonly #exports: Exports;

  private constructor(exports: Exports) {
    this.#exports = exports;
  }

  /**
   * A prefilter for folded keywords (lowercase printable ASCII), or undefined where the module cannot
   * run or the keywords do not fit its tables (more than 256, more than 8 KiB of them, or so many
   * short ones that their completions overflow the slots).
   */
  static create(keywords: readonly Uint8Array[]): Prefilter | undefined {
    const module = prefilterModule();
    if (!module || keywords.length > MAX_KEYWORDS || keywords.some((k) => k.length < 2)) return undefined;
    if (keywords.reduce((n, k) => n + k.length, 0) > MAX_CHARS) return undefined;
    // A keyword of two or three characters is listed under each of its 128^(4 - length) completions.
    if (keywords.reduce((n, k) => n + 128 ** Math.max(0, 4 - k.length), 0) > MAX_SLOT_ENTRIES) return undefined;
    try {
      const exports = new (wasm as WasmApi).Instance(module, {}).exports as Exports;
      const prefilter = new Prefilter(exports);
      prefilter.#reserve(INPUT);
      prefilter.#fill(keywords);
      return prefilter;
    } catch {
      // No memory for its tables: the automaton searches alone.
      return undefined;
    }
  }

  /** The module's own slot function, for the test that holds `slotOf` to it. */
  slotInModule(gram: number): number {
    return this.#exports.slot(gram);
  }

  static slotOf = slotOf;

  #reserve(bytes: number): void {
    const memory = this.#exports.memory;
    if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
  }

  #fill(keywords: readonly Uint8Array[]): void {
    const bytes = new Uint8Array(this.#exports.memory.buffer, TABLES, INPUT - TABLES);
    const view = new DataView(this.#exports.memory.buffer, TABLES, INPUT - TABLES);
    // Buckets: each keyword (shortest first) joins the one whose accepted set it widens least; a bucket's
    // nibble masks (which nibbles each of the four positions accepts) become its bit in the tables.
    assignBuckets(keywords).forEach(({ lo, hi }, b) => {
      for (let j = 0; j < 4; j++) {
        for (let nibble = 0; nibble < 16; nibble++) {
          if (((lo[j] as number) >> nibble) & 1) bytes[LO + 16 * j + nibble] = (bytes[LO + 16 * j + nibble] as number) | (1 << b);
          if (((hi[j] as number) >> nibble) & 1) bytes[HI + 16 * j + nibble] = (bytes[HI + 16 * j + nibble] as number) | (1 << b);
        }
      }
    });
    let offset = 0;
    keywords.forEach((keyword, k) => {
      view.setUint32(KEYWORD_OFFSET + 4 * k, offset, true);
      bytes.set(keyword, CHARS + offset);
      offset += keyword.length;
    });
    view.setUint32(KEYWORD_OFFSET + 4 * keywords.length, offset, true);
    // Each keyword under the slot of its first four characters, a shorter one under every completion
    // (each slot listing a keyword once): counted, then laid out slot by slot.
    const members: Array<[slot: number, keyword: number]> = [];
    const seen = new Set<number>();
    keywords.forEach((keyword, k) => {
      const fixed = Math.min(4, keyword.length);
      let gram = 0;
      for (let j = 0; j < fixed; j++) gram |= (keyword[j] as number) << (8 * j);
      seen.clear();
      for (let completion = 0; completion < 128 ** (4 - fixed); completion++) {
        let g = gram;
        for (let j = fixed, rest = completion; j < 4; j++, rest >>= 7) g |= (rest & 127) << (8 * j);
        const slot = slotOf(g);
        if (seen.has(slot)) continue;
        seen.add(slot);
        members.push([slot, k]);
      }
    });
    const counts = new Uint32Array(SLOTS + 1);
    for (const [slot] of members) counts[slot + 1] = (counts[slot + 1] as number) + 1;
    for (let slot = 0; slot < SLOTS; slot++) {
      counts[slot + 1] = (counts[slot + 1] as number) + (counts[slot] as number);
      view.setUint32(SLOT_START + 4 * slot, counts[slot] as number, true);
    }
    const next = counts.slice(0, SLOTS);
    // Within a slot, keywords in their order (members are in keyword order).
    for (const [slot, k] of members) {
      view.setUint16(SLOT_KEYWORDS + 2 * (next[slot] as number), k, true);
      next[slot] = (next[slot] as number) + 1;
    }
    view.setUint32(SLOT_START + 4 * SLOTS, members.length, true);
  }

  /**
   * Calls `hit(keyword, start)` for every occurrence, in order of end, longest first; false (nothing
   * reported) when it declines. A string is read as latin1 (the caller keeps strings with characters
   * past it away) and written straight into the module's memory.
   */
  search(input: Uint8Array | string, hit: (keyword: number, start: number) => void): boolean {
    if (input.length > MAX_INPUT) return false;
    // Room for every other character to end a keyword, and then some.
    const cap = input.length + 8192;
    const out = (INPUT + input.length + PAD + 3) & ~3;
    try {
      this.#reserve(out + 4 * cap);
    } catch {
      // The module's memory could not grow (the process is short of it): the automaton searches instead.
      return false;
    }
    const heap = Buffer.from(this.#exports.memory.buffer);
    if (typeof input === 'string') heap.write(input, INPUT, input.length, 'latin1');
    else heap.set(input, INPUT);
    heap.fill(0, INPUT + input.length, INPUT + input.length + PAD);
    const found = this.#exports.scan(TABLES, INPUT, input.length, out, cap);
    if (found < 0) return false;
    const pairs = new Uint32Array(this.#exports.memory.buffer, out, 2 * found);
    for (let i = 0; i < pairs.length; i += 2) hit(pairs[i] as number, pairs[i + 1] as number);
    return true;
  }
}

/**
 * Eight buckets of keywords, each keyword placed (shortest first) where its bucket's accepted set grows
 * least; with each bucket, the nibbles its four positions accept as 16-bit masks (past a short
 * keyword's end, every nibble).
 */
function assignBuckets(keywords: readonly Uint8Array[]): Array<{ readonly lo: readonly number[]; readonly hi: readonly number[] }> {
  const buckets = Array.from({ length: 8 }, () => ({ lo: [0, 0, 0, 0], hi: [0, 0, 0, 0] }));
  const ALL = 0xffff;
  const count = (mask: number): number => {
    let n = 0;
    for (let m = mask; m; m &= m - 1) n++;
    return n;
  };
  const widened = (lo: number[], hi: number[], keyword: Uint8Array): { lo: number[]; hi: number[] } => ({
    lo: lo.map((mask, j) => mask | (keyword[j] === undefined ? ALL : 1 << ((keyword[j] as number) & 15))),
    hi: hi.map((mask, j) => mask | (keyword[j] === undefined ? ALL : 1 << ((keyword[j] as number) >> 4))),
  });
  // The share of four-character strings a bucket accepts.
  const volume = (lo: number[], hi: number[]): number => lo.reduce((v, mask, j) => v * ((count(mask) * count(hi[j] as number)) / 256), 1);
  const order = keywords.map((_, k) => k).sort((a, b) => (keywords[a] as Uint8Array).length - (keywords[b] as Uint8Array).length);
  for (const k of order) {
    let best = buckets[0] as (typeof buckets)[number];
    let bestCost = Infinity;
    for (const bucket of buckets) {
      // An empty bucket accepts nothing (volume 0).
      const before = volume(bucket.lo, bucket.hi);
      const after = widened(bucket.lo, bucket.hi, keywords[k] as Uint8Array);
      const cost = volume(after.lo, after.hi) - before;
      if (cost < bestCost) {
        bestCost = cost;
        best = bucket;
      }
    }
    const after = widened(best.lo, best.hi, keywords[k] as Uint8Array);
    best.lo = after.lo;
    best.hi = after.hi;
  }
  return buckets;
}
