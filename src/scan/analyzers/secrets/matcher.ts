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
  const counts = new Map<string, number>();
  for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
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
  /** For each keyword (index in the search), the rules that named it. */
  readonly #byKeyword: ReadonlyArray<readonly CompiledSecretRule[]>;
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
    const byKeyword = new Map<string, CompiledSecretRule[]>();
    for (const rule of rules) {
      for (const keyword of rule.keywords) {
        const k = keyword.toLowerCase();
        byKeyword.set(k, [...(byKeyword.get(k) ?? []), rule]);
      }
    }
    this.#search = new KeywordSearch([...byKeyword.keys()]);
    this.#byKeyword = [...byKeyword.values()];
    this.reach = Math.max(0, ...rules.map((r) => r.maxLength)) + WINDOW_MARGIN;
  }

  get rules(): readonly CompiledSecretRule[] {
    return this.#rules;
  }

  /** For each rule whose keywords occur in `text`, the merged windows [start, end) to run it in. */
  windows(text: string, stats?: ScanStats): Map<CompiledSecretRule, Array<[number, number]>> {
    const windows = this.#collect(text.length, (hit) => this.#search.search(text, hit));
    if (stats) stats.searched += text.length;
    return windows;
  }

  #collect(length: number, search: (hit: (keyword: number, start: number) => void) => void): Map<CompiledSecretRule, Array<[number, number]>> {
    const windows = new Map<CompiledSecretRule, Array<[number, number]>>();
    search((keyword, start) => {
      for (const rule of this.#byKeyword[keyword] ?? []) {
        const from = Math.max(0, start - rule.maxLength - WINDOW_MARGIN);
        const to = Math.min(length, start + rule.maxLength + WINDOW_MARGIN);
        const list = windows.get(rule);
        const last = list?.[list.length - 1];
        // Hits come in order of their end, so a new window either extends the last one or follows it.
        if (last && from <= last[1]) last[1] = Math.max(last[1], to);
        else if (list) list.push([from, to]);
        else windows.set(rule, [[from, to]]);
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
    return this.#evaluate(this.windows(text, stats), text.length, (from, to) => (from === 0 && to === text.length ? text : text.slice(from, to)), edges, stats);
  }

  /**
   * `scan` over bytes read as latin1 (one character a byte, so offsets are byte offsets): the keyword
   * pass reads the bytes themselves, and only the windows around keywords become strings.
   */
  scanLatin1(bytes: Buffer, stats?: ScanStats, edges: Edges = {}): SecretMatch[] {
    const windows = this.#collect(bytes.length, (hit) => this.#search.searchBytes(bytes, hit));
    if (stats) stats.searched += bytes.length;
    return this.#evaluate(windows, bytes.length, (from, to) => bytes.toString('latin1', from, to), edges, stats);
  }

  #evaluate(windows: Map<CompiledSecretRule, Array<[number, number]>>, length: number, slice: (from: number, to: number) => string, edges: Edges, stats: ScanStats | undefined): SecretMatch[] {
    const out: SecretMatch[] = [];
    for (const [rule, list] of windows) {
      for (const [from, to] of list) {
        if (stats) stats.windowed += to - from;
        const window = slice(from, to);
        rule.regex.lastIndex = 0;
        for (const m of window.matchAll(rule.regex)) {
          const at = m.index ?? 0;
          // A match touching a cut edge may be cut itself; the window holding it whole reports it.
          if ((from > 0 || edges.cutStart) && at < WINDOW_MARGIN) continue;
          if ((to < length || edges.cutEnd) && at + m[0].length > window.length - WINDOW_MARGIN) continue;
          const secret = m.groups?.['secret'] ?? m[1] ?? m[0];
          if (!secret) continue;
          if (rule.allow?.includes(secret)) continue;
          if (rule.allowRegexes.some((r) => r.test(secret))) continue;
          if (rule.entropy !== undefined && entropy(secret) < rule.entropy) continue;
          const index = from + at + Math.max(0, m[0].indexOf(secret));
          out.push({ rule, index, length: secret.length, matchEnd: from + at + m[0].length, fingerprint: fingerprint(rule.id, secret) });
        }
      }
    }
    return out.sort((a, b) => a.index - b.index || a.rule.id.localeCompare(b.rule.id));
  }

  /** `text` with every secret replaced by `[REDACTED:rule-id]`: for build history shown in reports. */
  redact(text: string): string {
    const matches = this.scan(text).sort((a, b) => b.index - a.index);
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

/** 1-based line of an offset. */
export function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
