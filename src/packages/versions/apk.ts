/**
 * Alpine (apk) version ordering for `digit{.digit}[letter]{_suffix[number]}[~hash][-r#]`. Suffixes
 * `_alpha _beta _pre _rc` sort before the bare version, `_cvs _svn _git _hg _p` after it; a component
 * after the first that starts with 0 compares as a decimal fraction (1.01 < 1.1); `-rN` is the
 * package revision. A version that goes on is newer than one that ends, unless it goes on with a
 * pre-release suffix. Hence 1.0 > 1, and a component of zeros counts its zeros (1.001 < 1.01 < 1.0.1 < 1.1).
 */
const PRE = ['alpha', 'beta', 'pre', 'rc'];
const POST = ['cvs', 'svn', 'git', 'hg', 'p'];
const SHAPE = /^(\d+)((?:\.\d+)*)([a-z])?((?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)(~[0-9a-f]+)?(-r\d+)?$/;

/** Token kinds in the order apk ranks them when two versions differ in kind at the same place. */
const enum Kind {
  /** A component after a dot. */
  DigitOrZero = 0,
  /** The first component, and digits that go on after a run of zeros. */
  Digit = 1,
  Letter = 2,
  Suffix = 3,
  SuffixNo = 4,
  Hash = 5,
  Revision = 6,
  End = 7,
}

type Token = readonly [Kind, number | string];

function tokens(version: string): Token[] | undefined {
  const m = SHAPE.exec(version);
  if (!m) return undefined;
  const out: Token[] = [[Kind.Digit, Number(m[1])]];
  for (const part of (m[2] ?? '').split('.').slice(1)) {
    const zeros = /^0*/.exec(part)?.[0].length ?? 0;
    if (zeros > 0) {
      out.push([Kind.DigitOrZero, -zeros]);
      const rest = part.slice(zeros);
      if (rest) out.push([Kind.Digit, Number(rest)]);
    } else out.push([Kind.DigitOrZero, Number(part)]);
  }
  if (m[3]) out.push([Kind.Letter, m[3].charCodeAt(0)]);
  for (const suffix of (m[4] ?? '').split('_').slice(1)) {
    const name = /^[a-z]+/.exec(suffix)?.[0] ?? '';
    const pre = PRE.indexOf(name);
    out.push([Kind.Suffix, pre >= 0 ? pre - PRE.length : POST.indexOf(name)]);
    const number = suffix.slice(name.length);
    if (number) out.push([Kind.SuffixNo, Number(number)]);
  }
  if (m[5]) out.push([Kind.Hash, m[5].slice(1)]);
  if (m[6]) out.push([Kind.Revision, Number(m[6].slice(2))]);
  return out;
}

export function isApkVersion(version: string): boolean {
  return SHAPE.test(version);
}

export function compareApk(a: string, b: string): number {
  const ta = tokens(a);
  const tb = tokens(b);
  if (!ta || !tb) throw new Error(`invalid Alpine version ${JSON.stringify(ta ? b : a)}`);
  const n = Math.max(ta.length, tb.length);
  for (let i = 0; i < n; i++) {
    const [ka, va] = ta[i] ?? [Kind.End, 0];
    const [kb, vb] = tb[i] ?? [Kind.End, 0];
    if (ka === kb) {
      if (va === vb) continue;
      if (typeof va === 'string' || typeof vb === 'string') return String(va) < String(vb) ? -1 : 1;
      return va < vb ? -1 : 1;
    }
    if (ka === Kind.Suffix && (va as number) < 0) return -1;
    if (kb === Kind.Suffix && (vb as number) < 0) return 1;
    return ka > kb ? -1 : 1;
  }
  return 0;
}
