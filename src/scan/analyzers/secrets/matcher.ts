import { createHash } from 'node:crypto';
import type { CompiledSecretRule } from '../../../policy/load-rules.js';
import { KeywordSearch } from './keywords.js';

export interface SecretMatch {
  readonly rule: CompiledSecretRule;
  /** Offset of the secret in the text. */
  readonly index: number;
  readonly length: number;
  /** Offset just past the whole match (which may reach beyond the secret). */
  readonly matchEnd: number;
  readonly fingerprint: string;
}

/** Shannon entropy in bits per character. */
export function entropy(value: string): number {
  // Counts in a table for one-byte characters (every secret the latin1 scan finds); the sum runs in
  // order of first occurrence, as the Map it replaces did, so the result is the same to the last bit.
  const counts = ENTROPY_COUNTS;
  const order = ENTROPY_ORDER;
  let distinct = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff) return entropyOfCodePoints(value, counts, order, distinct);
    const n = counts[c] as number;
    if (n === 0) order[distinct++] = c;
    counts[c] = n + 1;
  }
  let bits = 0;
  for (let i = 0; i < distinct; i++) {
    const c = order[i] as number;
    const p = (counts[c] as number) / value.length;
    counts[c] = 0;
    bits -= p * Math.log2(p);
  }
  return bits;
}

const ENTROPY_COUNTS = new Int32Array(256);
const ENTROPY_ORDER = new Uint8Array(256);

function entropyOfCodePoints(value: string, counts: Int32Array, order: Uint8Array, distinct: number): number {
  for (let i = 0; i < distinct; i++) counts[order[i] as number] = 0;
  const map = new Map<string, number>();
  for (const c of value) map.set(c, (map.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of map.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * A fingerprint that identifies a secret without revealing it: sha256 over a fixed domain tag, the
 * rule and the value. Stable across runs and images, so exceptions and dashboards can name it.
 */
export function fingerprint(ruleId: string, secret: string): string {
  return `sha256:${createHash('sha256').update(`imggate/secret/v1\0${ruleId}\0`).update(secret, 'latin1').digest('hex')}`;
}

/**
 * Context kept on each side of a rule's window beyond its longest match, for lookarounds and
 * anchors; a match starting or ending inside this margin of a cut edge is left to the window (or the
 * next chunk) that holds it whole.
 */
export const WINDOW_MARGIN = 64;

/** Merged windows [start, end) as flat pairs, by rule index; a sparse array (`forEach` skips the holes). */
type Windows = number[][];

/** Whether a text is a piece cut out of a larger one, at its start or its end. */
export interface Edges {
  readonly cutStart?: boolean;
  readonly cutEnd?: boolean;
}

/** What one scan cost, for tests that assert the work stays linear in the input. */
export interface ScanStats {
  /** Characters the keyword search read. */
  searched: number;
  /** Characters handed to rule patterns (the windows around keyword hits). */
  windowed: number;
}

/**
 * Runs secret rules over text. One Aho–Corasick pass finds every keyword occurrence; each rule's
 * pattern then runs only in a window around its keywords' occurrences, as wide as the pattern's
 * longest match (known, since every repetition in a rule is bounded) plus a margin. Windows of one
 * rule are merged, so a rule reads each character at most once. Allowed example values, allow
 * patterns and the entropy floor are applied to the secret itself.
 */
export class SecretMatcher {
  readonly #rules: readonly CompiledSecretRule[];
  readonly #search: KeywordSearch;
  /** For each keyword (index in the search), the indices of the rules that named it. */
  readonly #byKeyword: readonly Int32Array[];
  /** For each rule (by index), how far its window reaches on either side of a keyword's start. */
  readonly #reachOf: Int32Array;
  /** For each rule (by index), its anchor if it has one (see `anchorOf`). */
  readonly #anchors: ReadonlyArray<Anchor | undefined>;
  /** Chars a match may reach past its keyword on either side: the overlap streamed chunks need. */
  readonly reach: number;

  static readonly #built = new WeakMap<readonly CompiledSecretRule[], SecretMatcher>();

  /** The matcher of a rule set, built once per set (the keyword automaton is costly to build, not to use). */
  static of(rules: readonly CompiledSecretRule[]): SecretMatcher {
    let matcher = SecretMatcher.#built.get(rules);
    if (!matcher) {
      matcher = new SecretMatcher(rules);
      SecretMatcher.#built.set(rules, matcher);
    }
    return matcher;
  }

  constructor(rules: readonly CompiledSecretRule[]) {
    this.#rules = rules;
    const byKeyword = new Map<string, number[]>();
    rules.forEach((rule, index) => {
      for (const keyword of rule.keywords) {
        const k = keyword.toLowerCase();
        byKeyword.set(k, [...(byKeyword.get(k) ?? []), index]);
      }
    });
    const keywords = [...byKeyword.keys()];
    this.#search = new KeywordSearch(keywords);
    this.#anchors = rules.map((rule) => anchorOf(rule, keywords));
    // An anchored rule needs only its anchor keywords' hits: every match holds one where the anchor says.
    this.#byKeyword = [...byKeyword.values()].map((list, k) => Int32Array.from(new Set(list.filter((r) => this.#anchors[r] === undefined || this.#anchors[r]?.keywords.has(k)))));
    this.#reachOf = Int32Array.from(rules, (r) => r.maxLength + WINDOW_MARGIN);
    this.reach = Math.max(0, ...rules.map((r) => r.maxLength)) + WINDOW_MARGIN;
  }

  get rules(): readonly CompiledSecretRule[] {
    return this.#rules;
  }

  /** For each rule whose keywords occur in `text`, the merged windows [start, end) to run it in. */
  windows(text: string, stats?: ScanStats): Map<CompiledSecretRule, Array<[number, number]>> {
    const windows = this.#collect(text.length, (hit) => this.#search.search(text, hit));
    if (stats) stats.searched += text.length;
    const out = new Map<CompiledSecretRule, Array<[number, number]>>();
    windows.forEach((list, r) => {
      const pairs: Array<[number, number]> = [];
      const rule = this.#rules[r] as CompiledSecretRule;
      const anchor = this.#anchors[r];
      for (let i = 0; i < list.length; i += 2) {
        const from = list[i] as number;
        const to = list[i + 1] as number;
        pairs.push(anchor ? [Math.max(0, from - WINDOW_MARGIN), Math.min(text.length, to - 1 + rule.maxLength + WINDOW_MARGIN)] : [from, to]);
      }
      out.set(rule, pairs);
    });
    return out;
  }

  /**
   * For each rule (by index) whose keywords occur, its merged windows as flat [start, end) pairs.
   * Called for every keyword occurrence, which binaries hold by the million: no allocation per hit.
   */
  #collect(length: number, search: (hit: (keyword: number, start: number) => void) => void): Windows {
    const windows: Windows = [];
    const byKeyword = this.#byKeyword;
    const reachOf = this.#reachOf;
    const anchors = this.#anchors;
    search((keyword, start) => {
      const rules = byKeyword[keyword] as Int32Array;
      for (let i = 0; i < rules.length; i++) {
        const r = rules[i] as number;
        const anchor = anchors[r];
        let from: number;
        let to: number;
        if (anchor === undefined) {
          const reach = reachOf[r] as number;
          from = start > reach ? start - reach : 0;
          to = start + reach < length ? start + reach : length;
        } else {
          // Where a match holding this occurrence of the anchor can start: [from, to).
          from = start > anchor.maxBefore ? start - anchor.maxBefore : 0;
          to = start - anchor.minBefore + 1;
          if (to <= from) continue;
        }
        const list = windows[r];
        if (list === undefined) {
          windows[r] = [from, to];
          continue;
        }
        const last = list.length - 1;
        // Hits come in order of their end, so a new window either extends the last one or follows it
        // (a window's margin takes in a start up to a keyword's length earlier). An anchor of several
        // keywords has no margin: a hit ending later may start earlier, and its range goes in its place.
        if (anchor !== undefined && from < (list[last - 1] as number)) {
          insertRange(list, from, to);
        } else if (from <= (list[last] as number)) {
          if (to > (list[last] as number)) list[last] = to;
        } else {
          list.push(from, to);
        }
      }
    });
    return windows;
  }

  /** Context a match needs from a cut edge to be trusted whole (see WINDOW_MARGIN). */
  readonly margin = WINDOW_MARGIN;

  /**
   * Every secret in `text`. `cutStart`/`cutEnd` say the text is a piece of a larger one: matches
   * within the margin of a cut edge are left out (the overlapping neighbour piece holds them whole).
   */
  scan(text: string, stats?: ScanStats, edges: Edges = {}): SecretMatch[] {
    const windows = this.#collect(text.length, (hit) => this.#search.search(text, hit));
    if (stats) stats.searched += text.length;
    return this.#evaluate(windows, text.length, (from, to) => (from === 0 && to === text.length ? text : text.slice(from, to)), edges, stats);
  }

  /**
   * `scan` over bytes read as latin1 (one character a byte, so offsets are byte offsets): the keyword
   * pass reads the bytes themselves, and the text becomes a string only when some keyword occurs.
   */
  scanLatin1(bytes: Buffer, stats?: ScanStats, edges: Edges = {}): SecretMatch[] {
    const windows = this.#collect(bytes.length, (hit) => this.#search.searchBytes(bytes, hit));
    if (stats) stats.searched += bytes.length;
    if (windows.length === 0) return [];
    let covered = 0;
    windows.forEach((list, r) => {
      const extra = this.#anchors[r] ? (this.#rules[r] as CompiledSecretRule).maxLength + 2 * WINDOW_MARGIN : 0;
      for (let w = 0; w < list.length; w += 2) covered += (list[w + 1] as number) - (list[w] as number) + extra;
    });
    // Where windows cover much of the piece (keyword-dense text), one string for all of it, the windows
    // slices of it (V8 slices without copying); where they are few (binaries), a string per window.
    const whole = covered * 4 >= bytes.length ? bytes.toString('latin1') : undefined;
    const slice = whole === undefined ? (from: number, to: number): string => bytes.toString('latin1', from, to) : (from: number, to: number): string => (from === 0 && to === whole.length ? whole : whole.slice(from, to));
    return this.#evaluate(windows, bytes.length, slice, edges, stats);
  }

  #evaluate(windows: Windows, length: number, slice: (from: number, to: number) => string, edges: Edges, stats: ScanStats | undefined): SecretMatch[] {
    const out: SecretMatch[] = [];
    windows.forEach((list, r) => {
      const rule = this.#rules[r] as CompiledSecretRule;
      const anchor = this.#anchors[r];
      if (anchor) {
        this.#evaluateAnchored(rule, anchor, list, length, slice, edges, stats, out);
        return;
      }
      for (let w = 0; w < list.length; w += 2) {
        const from = list[w] as number;
        const to = list[w + 1] as number;
        if (stats) stats.windowed += to - from;
        const window = slice(from, to);
        rule.regex.lastIndex = 0;
        for (const m of window.matchAll(rule.regex)) {
          const at = m.index ?? 0;
          // A match touching a cut edge may be cut itself; the window holding it whole reports it.
          if ((from > 0 || edges.cutStart) && at < WINDOW_MARGIN) continue;
          if ((to < length || edges.cutEnd) && at + m[0].length > window.length - WINDOW_MARGIN) continue;
          const found = judged(rule, m, from + at);
          if (found) out.push(found);
        }
      }
    });
    return out.sort((a, b) => a.index - b.index || a.rule.id.localeCompare(b.rule.id));
  }

  /**
   * An anchored rule, tried only where a match can start (`list`: merged [from, to) ranges of start
   * offsets), leftmost first and never overlapping, as `matchAll` over the whole text would find them.
   * Each run of nearby ranges shares one window with the margin and the longest match around it,
   * and the edge rules are those of the windowed rules.
   */
  #evaluateAnchored(rule: CompiledSecretRule, anchor: Anchor, list: readonly number[], length: number, slice: (from: number, to: number) => string, edges: Edges, stats: ScanStats | undefined, out: SecretMatch[]): void {
    const sticky = anchor.sticky;
    let next = 0;
    for (let w = 0; w < list.length; ) {
      const from = Math.max(0, (list[w] as number) - WINDOW_MARGIN);
      let last = w;
      let to = Math.min(length, (list[last + 1] as number) - 1 + rule.maxLength + WINDOW_MARGIN);
      // Ranges whose windows would overlap share one.
      while (last + 2 < list.length && (list[last + 2] as number) - WINDOW_MARGIN <= to) {
        last += 2;
        to = Math.min(length, (list[last + 1] as number) - 1 + rule.maxLength + WINDOW_MARGIN);
      }
      const window = slice(from, to);
      for (; w <= last; w += 2) {
        const end = list[w + 1] as number;
        let p = Math.max(list[w] as number, next);
        while (p < end) {
          if (stats) stats.windowed++;
          const at = p - from;
          sticky.lastIndex = at;
          const m = sticky.exec(window);
          if (!m) {
            p++;
            continue;
          }
          // As matchAll does: the next match starts past this one (one further after an empty one).
          next = p + Math.max(1, m[0].length);
          const start = p;
          p = next;
          if ((from > 0 || edges.cutStart) && at < WINDOW_MARGIN) continue;
          if ((to < length || edges.cutEnd) && at + m[0].length > window.length - WINDOW_MARGIN) continue;
          const found = judged(rule, m, start);
          if (found) out.push(found);
        }
      }
    }
  }

  /** `text` with every secret replaced by `[REDACTED:rule-id]`: for build history shown in reports. */
  redact(text: string, found: readonly SecretMatch[] = this.scan(text)): string {
    const matches = [...found].sort((a, b) => b.index - a.index);
    let out = text;
    let limit = Infinity;
    for (const m of matches) {
      if (m.index + m.length > limit) continue;
      out = `${out.slice(0, m.index)}[REDACTED:${m.rule.id}]${out.slice(m.index + m.length)}`;
      limit = m.index;
    }
    return out;
  }
}

/** Puts [from, to) into sorted, disjoint [start, end) pairs, merging the ranges it meets (rare: the tail is short). */
function insertRange(list: number[], from: number, to: number): void {
  let at = list.length - 2;
  while (at >= 0 && (list[at] as number) > from) at -= 2;
  list.splice(at + 2, 0, from, to);
  const first = Math.max(0, at);
  const merged: number[] = [];
  for (let i = first; i < list.length; i += 2) {
    const start = list[i] as number;
    const end = list[i + 1] as number;
    if (merged.length > 0 && start <= (merged[merged.length - 1] as number)) merged[merged.length - 1] = Math.max(merged[merged.length - 1] as number, end);
    else merged.push(start, end);
  }
  list.splice(first, list.length - first, ...merged);
}

/** 1-based line of an offset. */
export function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * A literal that every match of a rule holds, and that is one of the rule's keywords: a match can
 * start only `minBefore` to `maxBefore` characters before an occurrence of that keyword, so the rule
 * is tried at those offsets alone (sticky), not across a window around every keyword it names.
 */
interface Anchor {
  /** The keywords' indices in the search: one for a literal inside the pattern, several for the strings a match begins with. */
  readonly keywords: ReadonlySet<number>;
  readonly minBefore: number;
  readonly maxBefore: number;
  /** The rule's pattern, sticky: tried at one offset. */
  readonly sticky: RegExp;
}

/**
 * The anchor of a rule: a keyword inside a literal run every match holds (the run whose starts are
 * fewest); else, when every string a match can begin with (`prefixes`) begins with one of the rule's
 * keywords, those keywords at offset 0 (a match starts only where one of them does). None otherwise.
 */
function anchorOf(rule: CompiledSecretRule, keywords: readonly string[]): Anchor | undefined {
  const flags = rule.regex.flags;
  // Under /iu, Unicode case folding lets a non-ASCII character match an ASCII letter ("ſ" for "s"),
  // which the ASCII keyword search does not see: such a rule keeps its windows.
  if (flags.includes('i') && (flags.includes('u') || flags.includes('v'))) return undefined;
  const sticky = (): RegExp => new RegExp(rule.regex.source, `${flags.replace('g', '')}y`);
  let best: Omit<Anchor, 'sticky'> | undefined;
  for (const run of rule.literals) {
    const text = run.text.toLowerCase();
    for (const keyword of rule.keywords) {
      const k = keyword.toLowerCase();
      const offset = text.indexOf(k);
      const index = keywords.indexOf(k);
      if (offset < 0 || index < 0) continue;
      const candidate = { keywords: new Set([index]), minBefore: run.minBefore + offset, maxBefore: run.maxBefore + offset };
      if (!Number.isFinite(candidate.maxBefore)) continue;
      if (!best || candidate.maxBefore - candidate.minBefore < best.maxBefore - best.minBefore) best = candidate;
    }
  }
  if (best) return { ...best, sticky: sticky() };
  if (!rule.prefixes?.length) return undefined;
  const starting = new Set<number>();
  for (const prefix of rule.prefixes) {
    const at = rule.keywords.map((k) => k.toLowerCase()).filter((k) => prefix.startsWith(k));
    if (at.length === 0) return undefined;
    for (const k of at) if (keywords.includes(k)) starting.add(keywords.indexOf(k));
  }
  return { keywords: starting, minBefore: 0, maxBefore: 0, sticky: sticky() };
}

/** A match of `rule` at `start` as a finding, or undefined when its secret is allowed or too plain. */
function judged(rule: CompiledSecretRule, m: RegExpExecArray | RegExpMatchArray, start: number): SecretMatch | undefined {
  const secret = m.groups?.['secret'] ?? m[1] ?? m[0];
  if (!secret) return undefined;
  if (rule.allow?.includes(secret)) return undefined;
  if (rule.allowRegexes.some((re) => re.test(secret))) return undefined;
  if (rule.entropy !== undefined && entropy(secret) < rule.entropy) return undefined;
  const index = start + Math.max(0, m[0].indexOf(secret));
  return { rule, index, length: secret.length, matchEnd: start + m[0].length, fingerprint: fingerprint(rule.id, secret) };
}
