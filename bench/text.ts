/**
 * Deterministic text for the benches: the same seed gives the same bytes on every machine, so an
 * image built from it has the same digests everywhere and a cached copy stays valid.
 */

const WORDS = 'the of and to in is for on with as by at from this that config value server port host user name path token secret password key data file log info debug error return function const let var if else while import export class new'.split(' ');

/** A linear congruential generator: fast, and plenty for filler text. */
function lcg(seed: number): (n: number) => number {
  let x = seed * 2654435761;
  return (n) => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x % n;
  };
}

/** Text that looks like what images carry: code, configs, logs, base64. */
export function textFile(seed: number, size: number): string {
  const rand = lcg(seed);
  const word = (): string => WORDS[rand(WORDS.length)] as string;
  const lines: string[] = [];
  let length = 0;
  while (length < size) {
    const kind = rand(4);
    let line: string;
    if (kind === 0) line = `${word()}_${word()} = "${word()}-${rand(100000)}"`;
    else if (kind === 1) line = `2026-11-23T10:${rand(60)}:${rand(60)}Z INFO ${Array.from({ length: 10 }, word).join(' ')}`;
    else if (kind === 2) line = `  ${word()}(${word()}, ${rand(1000)}); // ${word()}`;
    else line = Buffer.from(Array.from({ length: 45 }, () => rand(256))).toString('base64');
    lines.push(line);
    length += line.length + 1;
  }
  return lines.join('\n');
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Configuration-like text where every other line names a secret (`password = …`, `api_key: …`,
 * `machine … password …`, URLs with a user): each one wakes the keyword prefilter and is read by the
 * rule's pattern, and nearly all are placeholders, references or words that the rules let pass. With
 * `withSecret`, one line carries a high-entropy value the generic rule reports.
 */
export function keywordDenseText(seed: number, size: number, withSecret = false): string {
  const rand = lcg(seed ^ 0x5eed);
  const word = (): string => WORDS[rand(WORDS.length)] as string;
  const upper = (): string => word().toUpperCase();
  const keyworded: Array<() => string> = [
    () => `password = \${${upper()}_PASSWORD}`,
    () => `api_key: changeme`,
    () => `  "access_key": "example-${word()}-${rand(1000)}",`,
    () => `${upper()}_TOKEN=\${${upper()}_TOKEN_${rand(100)}}`,
    () => `secret_name: ${word()}_${word()}_${word()}`,
    () => `token_type=bearer # ${word()} ${word()}`,
    () => `private_key_path = /etc/${word()}/${word()}.pem`,
    () => `machine ${word()}${rand(100)}.example.com login deploy password \$${upper()}`,
    () => `url: https://user:password@${word()}.example.com/${word()}`,
    () => `db_password: <%= ENV["${upper()}_PASSWORD"] %>`,
  ];
  const filler = textFile(seed, size).split('\n');
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const line = i % 2 === 0 ? (keyworded[rand(keyworded.length)] as () => string)() : (filler[i % filler.length] as string);
    lines.push(line);
    length += line.length + 1;
  }
  if (withSecret) {
    const value = Array.from({ length: 32 }, () => BASE62[rand(BASE62.length)]).join('');
    lines.splice(rand(lines.length), 0, `api_key: "${value}"`);
  }
  return lines.join('\n');
}
