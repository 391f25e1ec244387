/**
 * Tar names are bytes; the runtime creates files with exactly those bytes. Decoding them as UTF-8
 * with replacement would make `a\xff` and `a\xfe` the same path to the gate and two files to the
 * runtime, so bytes that are not part of valid UTF-8 are kept as lone surrogates U+DC80–U+DCFF (the
 * "surrogateescape" scheme): valid UTF-8 never decodes to a lone surrogate, so the mapping is
 * one-to-one and `encodeName` gives the original bytes back.
 */
export function decodeName(bytes: Buffer): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if ((bytes[i] as number) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return bytes.toString('latin1');
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i] as number;
    if (b0 < 0x80) {
      out += String.fromCharCode(b0);
      i++;
      continue;
    }
    const length = b0 >= 0xc2 && b0 <= 0xdf ? 2 : b0 >= 0xe0 && b0 <= 0xef ? 3 : b0 >= 0xf0 && b0 <= 0xf4 ? 4 : 0;
    const cp = length ? codePointAt(bytes, i, length) : undefined;
    if (cp === undefined) {
      out += String.fromCharCode(0xdc00 + b0);
      i++;
      continue;
    }
    out += String.fromCodePoint(cp);
    i += length;
  }
  return out;
}

function codePointAt(bytes: Buffer, i: number, length: number): number | undefined {
  if (i + length > bytes.length) return undefined;
  const b0 = bytes[i] as number;
  let cp = length === 2 ? b0 & 0x1f : length === 3 ? b0 & 0x0f : b0 & 0x07;
  for (let k = 1; k < length; k++) {
    const b = bytes[i + k] as number;
    if ((b & 0xc0) !== 0x80) return undefined;
    cp = (cp << 6) | (b & 0x3f);
  }
  // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not valid UTF-8.
  if (length === 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) return undefined;
  if (length === 4 && (cp < 0x10000 || cp > 0x10ffff)) return undefined;
  return cp;
}

/** The bytes a decoded name stands for (the inverse of `decodeName`). */
export function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  let run = '';
  for (const ch of name) {
    const cp = ch.codePointAt(0) as number;
    if (cp >= 0xdc80 && cp <= 0xdcff) {
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(Buffer.from([cp - 0xdc00]));
    } else {
      run += ch;
    }
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}
