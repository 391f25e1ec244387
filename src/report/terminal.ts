/**
 * Text from outside (registry error bodies, media types, platform names, archive member names, paths
 * in findings) can carry escape sequences and carriage returns that redraw the terminal: a fake PASS
 * line over the real error. These characters never print raw:
 * C0 controls (tab, CR and LF included: every printed field is one line), DEL, C1 controls (0x9b is
 * CSI on terminals that take 8-bit controls), and the Unicode line separators and bidirectional
 * overrides that reorder what is shown.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named !== undefined) return named;
  const code = ch.codePointAt(0) ?? 0;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** One string as it may reach a terminal: every unsafe character as a visible escape (`\e`, `\x9b`, `\u{202e}`). */
export function forTerminal(text: string): string {
  return text.replace(UNSAFE, escapeOne);
}

/**
 * A JSON document as it may reach a terminal. JSON.stringify escapes C0 controls but leaves DEL, C1
 * and the bidi characters raw; as `\uXXXX` escapes they decode to the same strings, so the document
 * means exactly what it meant.
 */
export function jsonForTerminal(json: string): string {
  return json.replace(/[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu, (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}
