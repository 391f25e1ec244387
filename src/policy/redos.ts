import regexpTree from 'regexp-tree';
import type { AstNode, Expression, Repetition } from 'regexp-tree/ast';

/**
 * The longest text one secret rule may match. The matcher runs each rule only in a window this wide
 * around a keyword, and streamed files overlap their chunks by it, so a match is never cut in two.
 */
export const MAX_MATCH_LENGTH = 65_536;

/**
 * A repetition of more than this many may not hold another repetition or an alternation: that is
 * where backtracking multiplies, and the ReDoS checker is not sound for bounded counts (it calls
 * `(a|a){0,30}b` safe), so this part is decided structurally.
 */
export const NEST_LIMIT = 4;

/** What the structural check learns from one pattern. */
export interface PatternShape {
  /** Longest possible match, in UTF-16 code units; Infinity when some repetition is unbounded. */
  readonly maxLength: number;
  /** Why the pattern is refused before any checker runs (unbounded repetition, backreference). */
  readonly problems: readonly string[];
  /**
   * The runs of literal ASCII characters in the pattern's top-level sequence, which every match
   * holds, each with how far from the match's start it may begin: where a match can start is known
   * from where such a run occurs in the text.
   */
  readonly literals: readonly LiteralRun[];
  /**
   * Sets of strings (lowercased) such that every match holds one of each set (see `requiredStrings`):
   * the matcher finds a rule only through its keywords, so some set's strings must each hold one.
   */
  readonly required: readonly (readonly string[])[];
  /**
   * The strings (lowercased) a match can begin with, when they are few and known (see `startStrings`):
   * with keywords at their starts, a match starts only where a keyword does.
   */
  readonly prefixes: readonly string[] | null;
}

/** A literal every match holds, `minBefore` to `maxBefore` code units after the match's start. */
export interface LiteralRun {
  readonly text: string;
  readonly minBefore: number;
  readonly maxBefore: number;
}

function parse(source: string, flags: string): Expression | null {
  // regexp-tree reads a literal; a slash in the source must be escaped to stay inside it.
  return regexpTree.parse(`/${source.replace(/(?<!\\)((?:\\\\)*)\//g, '$1\\/')}/${flags}`).body;
}

function maxLength(node: Expression | null, problems: string[], unit: number): number {
  if (!node) return 0;
  switch (node.type) {
    case 'Char':
    case 'CharacterClass':
      // A code point may take two UTF-16 units with the u flag; count the worst case.
      return unit;
    case 'Alternative':
      return node.expressions.reduce((n, e) => n + maxLength(e, problems, unit), 0);
    case 'Disjunction':
      return Math.max(maxLength(node.left, problems, unit), maxLength(node.right, problems, unit));
    case 'Group':
      return maxLength(node.expression, problems, unit);
    case 'Assertion':
      return 0;
    case 'Backreference':
      problems.push('a backreference (no linear-time guarantee exists for it)');
      return Infinity;
    case 'Repetition': {
      const inner = maxLength(node.expression, problems, unit);
      const q = node.quantifier;
      const to = q.kind === '?' ? 1 : q.kind === 'Range' ? q.to : undefined;
      if (to === undefined) {
        problems.push(`an unbounded repetition "${regexpTree.generate(node as AstNode)}" (give it an upper bound such as {1,256})`);
        return Infinity;
      }
      return inner * to;
    }
  }
}

/** Whether `node` holds a repetition of more than one, or an alternation, anywhere inside. */
function multiplies(node: Expression | null): boolean {
  if (!node) return false;
  switch (node.type) {
    case 'Disjunction':
      return true;
    case 'Alternative':
      return node.expressions.some(multiplies);
    case 'Group':
      return multiplies(node.expression);
    case 'Repetition':
      return upperBound(node) !== 1 || multiplies(node.expression);
    default:
      // Lookarounds are zero-width and run once per position; what they hold does not repeat here.
      return false;
  }
}

function minLength(node: Expression | null): number {
  if (!node) return 0;
  switch (node.type) {
    case 'Char':
    case 'CharacterClass':
      return 1;
    case 'Alternative':
      return node.expressions.reduce((n, e) => n + minLength(e), 0);
    case 'Disjunction':
      return Math.min(minLength(node.left), minLength(node.right));
    case 'Group':
      return minLength(node.expression);
    case 'Repetition': {
      const q = node.quantifier;
      const from = q.kind === '+' ? 1 : q.kind === 'Range' ? q.from : 0;
      return from * minLength(node.expression);
    }
    default:
      return 0;
  }
}

/** A character that matches only itself (case aside): a printable ASCII one, escaped or not. */
function literalChar(node: Expression): string | undefined {
  if (node.type !== 'Char' || node.kind !== 'simple') return undefined;
  const code = node.value.length === 1 ? node.value.charCodeAt(0) : 0;
  return code >= 0x20 && code < 0x7f ? node.value : undefined;
}

/** A sequence with its groups of one alternative opened (`(?<secret>ghp_…)` holds `ghp_` as much as `ghp_…` does). */
function flatten(node: Expression): Expression[] {
  if (node.type === 'Group') return node.expression ? flatten(node.expression) : [];
  if (node.type === 'Alternative') return node.expressions.flatMap(flatten);
  return [node];
}

/** The literal runs of the top-level sequence; none when the pattern is an alternation at its top. */
function literalRuns(body: Expression | null, unit: number): LiteralRun[] {
  if (!body) return [];
  const sequence = flatten(body);
  const runs: LiteralRun[] = [];
  let min = 0;
  let max = 0;
  let run: { text: string; minBefore: number; maxBefore: number } | undefined;
  for (const node of sequence) {
    const char = literalChar(node);
    if (char !== undefined) {
      if (run) run.text += char;
      else run = { text: char, minBefore: min, maxBefore: max };
      min += 1;
      max += 1;
      continue;
    }
    if (run) runs.push(run);
    run = undefined;
    min += minLength(node);
    max += maxLength(node, [], unit);
  }
  if (run) runs.push(run);
  return runs;
}

function upperBound(node: Repetition): number | undefined {
  const q = node.quantifier;
  return q.kind === '?' ? 1 : q.kind === 'Range' ? q.to : undefined;
}

function nested(node: Expression | null, problems: string[]): void {
  if (!node) return;
  switch (node.type) {
    case 'Alternative':
      for (const e of node.expressions) nested(e, problems);
      return;
    case 'Disjunction':
      nested(node.left, problems);
      nested(node.right, problems);
      return;
    case 'Group':
      nested(node.expression, problems);
      return;
    case 'Assertion':
      if (node.kind === 'Lookahead' || node.kind === 'Lookbehind') nested(node.assertion, problems);
      return;
    case 'Repetition': {
      const to = upperBound(node);
      if ((to === undefined || to > NEST_LIMIT) && multiplies(node.expression)) {
        problems.push(`a repetition "${regexpTree.generate(node as AstNode)}" that holds another repetition or an alternation (backtracking multiplies there)`);
      }
      nested(node.expression, problems);
      return;
    }
    default:
      return;
  }
}

/**
 * Reads a pattern's structure: its longest match and the constructs a secret rule may not use.
 * Throws when regexp-tree cannot parse it (the caller reports it with the file and field).
 */
export function patternShape(source: string, flags: string): PatternShape {
  // Parsing is the costly part of loading rules; a pattern's shape never changes.
  const key = `${flags}/${source}`;
  let shape = shapes.get(key);
  if (!shape) {
    shape = readShape(source, flags);
    shapes.set(key, shape);
  }
  return { maxLength: shape.maxLength, problems: [...shape.problems], literals: shape.literals, required: shape.required, prefixes: shape.prefixes };
}

const shapes = new Map<string, PatternShape>();

function readShape(source: string, flags: string): PatternShape {
  const problems: string[] = [];
  const body = parse(source, flags);
  const length = maxLength(body, problems, flags.includes('u') ? 2 : 1);
  nested(body, problems);
  if (Number.isFinite(length) && length > MAX_MATCH_LENGTH) {
    problems.push(`a longest match of ${length} characters, above the ${MAX_MATCH_LENGTH} a rule may match`);
  }
  return { maxLength: length, problems, literals: literalRuns(body, flags.includes('u') ? 2 : 1), required: requiredStrings(body, flags), prefixes: startStrings(body, flags) };
}

/** Finite sets larger than this are not built (a class like `[A-Za-z0-9]` is no literal). */
const MAX_SET = 64;
/** Requirements kept for one node (each holds: every match holds a string of each). */
const MAX_REQUIREMENTS = 16;

/**
 * What the analysis knows of a node: `exact`, the only strings it can match (a small finite set, the
 * empty string for an assertion), and `required`, sets of strings such that each match holds a
 * string of every set (none: it can match text holding nothing known).
 */
interface Known {
  readonly exact?: ReadonlySet<string>;
  readonly required: ReadonlyArray<ReadonlySet<string>>;
}

const NOTHING: Known = { required: [] };
const EMPTY: Known = { exact: new Set(['']), required: [] };

/** An exact set as a requirement: none when it holds the empty string (which requires nothing). */
function asRequirement(set: ReadonlySet<string> | undefined): Array<ReadonlySet<string>> {
  return set && !set.has('') ? [set] : [];
}

function product(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> | undefined {
  if (a.size * b.size > MAX_SET) return undefined;
  const out = new Set<string>();
  for (const x of a) for (const y of b) out.add(x + y);
  return out;
}

/**
 * The characters a class or an escape matches, lowercased, when they are few and all printable ASCII.
 * Under `iu` (or `iv`), Unicode case folding lets "ſ" match "s" and "K" (Kelvin) match "k": those
 * letters are not literals there, for the keyword search reads ASCII only.
 */
function charSet(node: Expression, flags: string): Set<string> | undefined {
  const foldsPastAscii = flags.includes('i') && (flags.includes('u') || flags.includes('v'));
  const add = (out: Set<string>, code: number): boolean => {
    if (code < 0x20 || code >= 0x7f) return false;
    const c = String.fromCharCode(code).toLowerCase();
    if (foldsPastAscii && (c === 's' || c === 'k')) return false;
    out.add(c);
    return out.size <= MAX_SET;
  };
  const out = new Set<string>();
  if (node.type === 'Char') {
    if (node.kind === 'meta' || node.codePoint === undefined || node.codePoint < 0) return undefined;
    return add(out, node.codePoint) ? out : undefined;
  }
  if (node.type !== 'CharacterClass' || node.negative) return undefined;
  for (const item of node.expressions) {
    if (item.type === 'ClassRange') {
      if (item.to.codePoint - item.from.codePoint > MAX_SET) return undefined;
      for (let c = item.from.codePoint; c <= item.to.codePoint; c++) if (!add(out, c)) return undefined;
    } else {
      const set = charSet(item, flags);
      if (!set) return undefined;
      for (const c of set) out.add(c);
      if (out.size > MAX_SET) return undefined;
    }
  }
  return out;
}

function known(node: Expression | null, flags: string): Known {
  if (!node) return EMPTY;
  switch (node.type) {
    case 'Char':
    case 'CharacterClass': {
      const set = charSet(node, flags);
      return set ? { exact: set, required: asRequirement(set) } : NOTHING;
    }
    case 'Assertion':
      return EMPTY;
    case 'Group':
      return known(node.expression, flags);
    case 'Disjunction': {
      const left = known(node.left, flags);
      const right = known(node.right, flags);
      const exact = left.exact && right.exact && left.exact.size + right.exact.size <= MAX_SET ? new Set([...left.exact, ...right.exact]) : undefined;
      // A match holds what one side requires: a string of a set from the left or of one from the right.
      const required: Array<ReadonlySet<string>> = [];
      for (const a of left.required) for (const b of right.required) if (required.length < MAX_REQUIREMENTS) required.push(new Set([...a, ...b]));
      return { ...(exact ? { exact } : {}), required: exact ? [...asRequirement(exact), ...required] : required };
    }
    case 'Alternative': {
      // Runs of exact parts join into longer exact strings; every part's requirements hold for the whole.
      let run: ReadonlySet<string> = new Set(['']);
      let exact = true;
      const required: Array<ReadonlySet<string>> = [];
      for (const part of node.expressions) {
        const k = known(part, flags);
        const joined: Set<string> | undefined = k.exact ? product(run, k.exact) : undefined;
        if (joined) {
          run = joined;
          continue;
        }
        exact = false;
        required.push(...asRequirement(run), ...k.required);
        run = k.exact ?? new Set(['']);
      }
      required.push(...asRequirement(run));
      return { ...(exact ? { exact: run } : {}), required: required.slice(0, MAX_REQUIREMENTS) };
    }
    case 'Repetition': {
      const q = node.quantifier;
      const from = q.kind === '+' ? 1 : q.kind === 'Range' ? q.from : 0;
      const to = upperBound(node);
      const inner = known(node.expression, flags);
      if (from === 0 && to === 1 && inner.exact && inner.exact.size < MAX_SET) return { exact: new Set([...inner.exact, '']), required: [] };
      if (from === 0) return NOTHING;
      if (from === 1 && to === 1) return inner;
      return { required: inner.required };
    }
    default:
      return NOTHING;
  }
}

/**
 * The strings, lowercased, every match begins with: the exact parts at the head of the top-level
 * sequence (past zero-width assertions such as a lookbehind), joined while the set stays small. Null
 * when the head is not exact (a class like `[A-Za-z]`, an unbounded part) or may be empty.
 */
export function startStrings(body: Expression | null, flags: string): string[] | null {
  if (!body) return null;
  let run: ReadonlySet<string> = new Set(['']);
  for (const node of flatten(body)) {
    if (node.type === 'Assertion' && run.size === 1 && run.has('')) continue;
    const exact = known(node, flags).exact;
    const joined = exact ? product(run, exact) : undefined;
    if (!joined) break;
    run = joined;
  }
  const set = [...run];
  return set.length > 0 && set.every((text) => text.length > 0) ? set.sort() : null;
}

/**
 * Sets of strings, lowercased, such that every match of the pattern holds a string of each: what
 * regular-expression engines call a prefilter's required atoms, over-approximated (small alternations,
 * classes and optional parts are expanded: `api[_-]?key` needs one of "api-key", "api_key", "apikey").
 * Empty when nothing is known: some match may hold nothing in particular.
 */
export function requiredStrings(body: Expression | null, flags: string): string[][] {
  return known(body, flags).required.map((set) => [...set].sort());
}

/** The ReDoS checker's word on one pattern. */
export interface LinearVerdict {
  readonly linear: boolean;
  /** `safe`, or the complexity found (`2nd degree polynomial`), or why it could not tell. */
  readonly summary: string;
  /** For a vulnerable pattern: a text that makes it backtrack, pumped (never printed whole). */
  readonly attack?: string;
}

/**
 * Asks recheck's automaton checker (deterministic; no fuzzing, so no random verdicts) whether the
 * pattern matches in linear time. "Unknown" (a timeout, an unsupported construct) counts as not
 * linear: a rule that cannot be shown linear is refused.
 */
export async function checkLinear(source: string, flags: string, timeoutMs = 120_000): Promise<LinearVerdict> {
  const { check } = await import('recheck');
  const d = await check(source, flags, {
    checker: 'automaton',
    timeout: timeoutMs,
    // Bounded counts are expanded, not approximated: the bundled rules use bounds up to 32768.
    maxRepeatCount: 100_000,
    maxNFASize: 1_000_000,
    maxPatternSize: 100_000,
  });
  if (d.status === 'safe') return { linear: true, summary: 'safe' };
  if (d.status === 'vulnerable') return { linear: false, summary: d.complexity.summary, attack: d.attack.string };
  return { linear: false, summary: `could not be shown linear (${d.error.kind}${'message' in d.error ? `: ${d.error.message}` : ''})` };
}
