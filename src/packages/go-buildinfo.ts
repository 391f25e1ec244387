import type { ParsedPackage } from './parsers.js';

/** The marker Go's linker puts before the build information (`.go.buildinfo`). */
export const GO_BUILDINFO_MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
/** Bytes kept after the marker: header, version and module information fit well within. */
export const GO_BUILDINFO_WINDOW = 64 * 1024;

/**
 * Watches a binary's bytes as they stream for Go's build information and keeps a window after the
 * marker; memory stays at the window whatever the binary's size.
 */
export class GoBuildInfoScanner {
  #tail: Buffer = Buffer.alloc(0);
  #window: Buffer[] | undefined;
  #windowBytes = 0;
  #isElf: boolean | undefined;

  push(chunk: Buffer): void {
    if (this.#isElf === undefined) this.#isElf = chunk.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    if (!this.#isElf) return;
    if (this.#window) {
      if (this.#windowBytes < GO_BUILDINFO_WINDOW) {
        const take = chunk.subarray(0, GO_BUILDINFO_WINDOW - this.#windowBytes);
        this.#window.push(Buffer.from(take));
        this.#windowBytes += take.length;
      }
      return;
    }
    // A marker cut across two chunks starts in the tail kept from the one before; only that short
    // junction is joined (copying every chunk of every binary cost more than the search).
    const tail = this.#tail;
    const junction = tail.length ? Buffer.concat([tail, chunk.subarray(0, GO_BUILDINFO_MAGIC.length - 1)]) : undefined;
    const cut = junction ? junction.indexOf(GO_BUILDINFO_MAGIC) : -1;
    if (cut >= 0 && cut < tail.length) {
      this.#open(Buffer.concat([tail.subarray(cut), chunk.subarray(0, GO_BUILDINFO_WINDOW)]));
      return;
    }
    const at = chunk.indexOf(GO_BUILDINFO_MAGIC);
    if (at >= 0) {
      this.#open(chunk.subarray(at));
      return;
    }
    const keep = GO_BUILDINFO_MAGIC.length - 1;
    // The last bytes seen, which may begin a marker: from this chunk, topped up from the tail when it is shorter.
    this.#tail = chunk.length >= keep ? Buffer.from(chunk.subarray(chunk.length - keep)) : Buffer.concat([tail, chunk]).subarray(-keep);
  }

  #open(from: Buffer): void {
    const rest = from.subarray(0, GO_BUILDINFO_WINDOW);
    this.#window = [Buffer.from(rest)];
    this.#windowBytes = rest.length;
  }

  /** The modules the binary was built from, or undefined when it is not a Go binary imggate can read. */
  result(): { goVersion: string; main?: string; modules: ParsedPackage[] } | undefined {
    return this.#window ? parseGoBuildInfo(Buffer.concat(this.#window)) : undefined;
  }
}

function uvarint(data: Buffer, at: number): [number, number] | undefined {
  let value = 0;
  let shift = 0;
  for (let i = at; i < data.length && i < at + 10; i++) {
    const b = data[i] as number;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, i + 1];
    shift += 7;
  }
  return undefined;
}

/**
 * Parses build information in the Go 1.18+ layout (flags bit 2: strings inline after a 32-byte
 * header): the toolchain version and `mod`/`dep` lines of the module information, with `=>`
 * replacements applied. The pre-1.18 layout, which points into the data segment, is not read.
 */
export function parseGoBuildInfo(data: Buffer): { goVersion: string; main?: string; modules: ParsedPackage[] } | undefined {
  if (!data.subarray(0, GO_BUILDINFO_MAGIC.length).equals(GO_BUILDINFO_MAGIC) || data.length < 33) return undefined;
  const flags = data[15] ?? 0;
  if ((flags & 2) === 0) return undefined;
  const v = uvarint(data, 32);
  if (!v) return undefined;
  const goVersion = data.subarray(v[1], v[1] + v[0]).toString('utf8');
  const m = uvarint(data, v[1] + v[0]);
  if (!m || !/^go\d/.test(goVersion)) return undefined;
  let info = data.subarray(m[1], m[1] + m[0]).toString('latin1');
  // Module information is framed by 16-byte sentinels.
  if (info.length >= 33 && info[info.length - 17] === '\n') info = info.slice(16, -16);
  const modules: ParsedPackage[] = [];
  let main: string | undefined;
  for (const line of info.split('\n')) {
    const [kind, path, version] = line.split('\t');
    if (kind === 'path' && path) main = path;
    else if ((kind === 'mod' || kind === 'dep') && path && version && version !== '(devel)') modules.push({ name: path, version });
    else if (kind === '=>' && path && version && modules.length) modules[modules.length - 1] = { name: path, version };
  }
  return { goVersion, ...(main ? { main } : {}), modules };
}
