/**
 * Maven version ordering (ComparableVersion): the version splits into numbers and qualifiers at
 * `.`, `-` and digit/letter transitions; trailing zero and empty items are dropped; known qualifiers
 * rank alpha < beta < milestone < rc = cr < snapshot < (release: "", ga, final) < sp, unknown ones
 * after sp in lexical order; `-` opens a sub-list that sorts before a plain number continuation.
 */
type Item = { kind: 'int'; value: bigint } | { kind: 'str'; value: string } | { kind: 'list'; items: Item[] };

const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };
const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];

function qualifierKey(q: string): string {
  const i = QUALIFIERS.indexOf(q);
  return i >= 0 ? String(i) : `${QUALIFIERS.length}-${q}`;
}

function stringItem(text: string, followedByDigit: boolean): Item {
  let v = text.toLowerCase();
  if (followedByDigit && v.length === 1) v = v === 'a' ? 'alpha' : v === 'b' ? 'beta' : v === 'm' ? 'milestone' : v;
  return { kind: 'str', value: ALIASES[v] ?? v };
}

function isNull(item: Item): boolean {
  if (item.kind === 'int') return item.value === 0n;
  if (item.kind === 'str') return qualifierKey(item.value) === qualifierKey('');
  return item.items.length === 0;
}

function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const item = list[i] as Item;
    if (isNull(item)) list.splice(i, 1);
    else if (item.kind !== 'list') break;
  }
}

export function parseMaven(version: string): Item {
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  const v = version.toLowerCase();
  let start = 0;
  let isDigit = false;
  const openList = (): void => {
    const sub: Item[] = [];
    list.push({ kind: 'list', items: sub });
    list = sub;
    stack.push(sub);
  };
  const push = (text: string, digit: boolean, followedByDigit: boolean): void => {
    if (text === '') list.push({ kind: 'int', value: 0n });
    else list.push(digit ? { kind: 'int', value: BigInt(text) } : stringItem(text, followedByDigit));
  };
  for (let i = 0; i < v.length; i++) {
    const c = v[i] as string;
    if (c === '.') {
      push(v.slice(start, i), isDigit, false);
      start = i + 1;
    } else if (c === '-') {
      push(v.slice(start, i), isDigit, false);
      start = i + 1;
      openList();
    } else if (c >= '0' && c <= '9') {
      if (!isDigit && i > start) {
        // A qualifier after other items gets a list of its own: 1.0.0.X1 sorts as 1.0.0-X1.
        if (list.length > 0) openList();
        push(v.slice(start, i), false, true);
        start = i;
        openList();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        push(v.slice(start, i), true, false);
        start = i;
        openList();
      }
      isDigit = false;
    }
  }
  if (v.length > start) push(v.slice(start), isDigit, false);
  for (let i = stack.length - 1; i >= 0; i--) normalize(stack[i] as Item[]);
  return { kind: 'list', items: root };
}

function compareItem(a: Item | undefined, b: Item | undefined): number {
  if (a === undefined && b === undefined) return 0;
  if (a === undefined) return -compareItem(b, undefined);
  if (a.kind === 'int') {
    if (b === undefined) return a.value === 0n ? 0 : 1;
    if (b.kind === 'int') return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
    return 1;
  }
  if (a.kind === 'str') {
    if (b === undefined) return compareStrings(qualifierKey(a.value), qualifierKey(''));
    if (b.kind === 'str') return compareStrings(qualifierKey(a.value), qualifierKey(b.value));
    return -1;
  }
  if (b === undefined) return a.items.length === 0 ? 0 : compareItem(a.items[0], undefined);
  if (b.kind === 'int') return -1;
  if (b.kind === 'str') return 1;
  for (let i = 0; i < Math.max(a.items.length, b.items.length); i++) {
    const c = compareItem(a.items[i], b.items[i]);
    if (c) return c;
  }
  return 0;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareMaven(a: string, b: string): number {
  return compareItem(parseMaven(a), parseMaven(b));
}
