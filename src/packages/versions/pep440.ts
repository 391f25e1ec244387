/**
 * Python version ordering (PEP 440): `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, normalised the
 * way `packaging` does (alpha→a, c/pre/preview→rc, -N and rev/r as post, implicit numbers 0).
 */
const PATTERN =
  /^v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?(\d+)?)?(?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d+)?)?(?:[-_.]?(dev)[-_.]?(\d+)?)?(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$/i;

interface Pep440 {
  epoch: number;
  release: number[];
  pre: [number, number] | undefined;
  post: number | undefined;
  dev: number | undefined;
  local: Array<number | string> | undefined;
}

const PRE_RANK: Record<string, number> = { a: 0, alpha: 0, b: 1, beta: 1, c: 2, rc: 2, pre: 2, preview: 2 };

export function parsePep440(text: string): Pep440 | undefined {
  const m = PATTERN.exec(text.trim());
  if (!m) return undefined;
  const release = (m[2] ?? '0').split('.').map(Number);
  while (release.length > 1 && release[release.length - 1] === 0) release.pop();
  return {
    epoch: Number(m[1] ?? 0),
    release,
    pre: m[3] ? [PRE_RANK[m[3].toLowerCase()] ?? 0, Number(m[4] ?? 0)] : undefined,
    post: m[5] !== undefined ? Number(m[5]) : m[6] ? Number(m[7] ?? 0) : undefined,
    dev: m[8] ? Number(m[9] ?? 0) : undefined,
    local: m[10] ? m[10].toLowerCase().split(/[-_.]/).map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : undefined,
  };
}

function cmp(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function comparePep440(a: string, b: string): number {
  const x = parsePep440(a);
  const y = parsePep440(b);
  if (!x || !y) throw new Error(`invalid PEP 440 version ${JSON.stringify(x ? b : a)}`);
  if (x.epoch !== y.epoch) return cmp(x.epoch, y.epoch);
  for (let i = 0; i < Math.max(x.release.length, y.release.length); i++) {
    const c = cmp(x.release[i] ?? 0, y.release[i] ?? 0);
    if (c) return c;
  }
  // A dev release of the final version sorts before its pre-releases; no pre-release sorts after all.
  const preKey = (v: Pep440): [number, number] => (v.pre ? v.pre : v.post === undefined && v.dev !== undefined ? [-1, 0] : [3, 0]);
  const [pa, pb] = [preKey(x), preKey(y)];
  if (pa[0] !== pb[0] || pa[1] !== pb[1]) return cmp(pa[0], pb[0]) || cmp(pa[1], pb[1]);
  const post = cmp(x.post ?? -1, y.post ?? -1);
  if (post) return post;
  const dev = cmp(x.dev ?? Infinity, y.dev ?? Infinity);
  if (dev) return dev;
  const la = x.local ?? [];
  const lb = y.local ?? [];
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    const p = la[i];
    const q = lb[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (typeof p !== typeof q) return typeof p === 'number' ? 1 : -1;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}
