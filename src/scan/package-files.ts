import { createHash, type Hash } from 'node:crypto';
import { posix } from 'node:path';
import type { EntryInfo } from './analyzer.js';
import type { FinalFile, FinalFilesystem } from './filesystem.js';

const DPKG_DB = /^\/var\/lib\/dpkg\/info\/([^/]+)\.(list|md5sums)$/;
const APK_INSTALLED = '/lib/apk/db/installed';

/** Bytes of one package database file an analyzer reads to know what packages vouch for. */
export const PACKAGE_LIST_BYTES = 16 * 1024 * 1024;

/** Whether an entry is a package database file that lists installed paths or their checksums. */
export function isPackageFileList(path: string): boolean {
  return DPKG_DB.test(path) || path === APK_INSTALLED;
}

/** The digests of a file's content that package databases use: md5 (dpkg) and sha1 (apk). */
export interface ContentSums {
  readonly md5: string;
  readonly sha1: string;
}

/** Both package-database digests of content that arrives in pieces. */
export class ContentHasher {
  readonly #md5: Hash = createHash('md5');
  readonly #sha1: Hash = createHash('sha1');

  update(chunk: Buffer): this {
    this.#md5.update(chunk);
    this.#sha1.update(chunk);
    return this;
  }

  digest(): ContentSums {
    return { md5: this.#md5.digest('hex'), sha1: this.#sha1.digest('hex') };
  }

  static of(content: Buffer): ContentSums {
    return new ContentHasher().update(content).digest();
  }
}

/** Package database files a layer wrote (dpkg lists and md5sums, apk's installed), as layer facts keep them. */
export type PackageLists = Array<[ordinal: number, text: string]>;

/** The package databases of every layer, from each layer's facts. */
export function packagedFilesOf(lists: ReadonlyMap<EntryInfo, string>): PackagedFiles {
  const packaged = new PackagedFiles();
  for (const [entry, text] of lists) packaged.add(entry, text);
  return packaged;
}

/** md5sums lines: `HEX  relative/path`. */
function dpkgSums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{32}) [ *](.+)$/.exec(line);
    if (m) out.set(`/${(m[2] as string).replace(/^\/+/, '')}`, m[1] as string);
  }
  return out;
}

/** apk's `installed`: `P:` package, `F:` directory, `R:` file within it, `Z:Q1<base64 sha1>` for that file. */
function apkSums(text: string): Map<string, { sha1: string | undefined; pkg: string }> {
  const out = new Map<string, { sha1: string | undefined; pkg: string }>();
  let pkg = '';
  let dir = '';
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('P:')) pkg = line.slice(2);
    else if (line.startsWith('F:')) dir = line.slice(2);
    else if (line.startsWith('R:')) {
      last = `/${posix.join(dir, line.slice(2))}`;
      out.set(last, { sha1: undefined, pkg });
    } else if (line.startsWith('Z:Q1') && last !== undefined) {
      const raw = Buffer.from(line.slice(4), 'base64');
      if (raw.length === 20) out.set(last, { sha1: raw.toString('hex'), pkg });
    } else if (line === '') {
      pkg = '';
      dir = '';
      last = undefined;
    }
  }
  return out;
}

type Copy = {
  readonly entry: EntryInfo;
  readonly text: string;
  /** The text parsed, once: claims are drawn for several views and layers from the same copies. */
  md5?: Map<string, string>;
  apk?: Map<string, { sha1: string | undefined; pkg: string }>;
  lines?: string[];
};
/** Path in the final filesystem → digest (`md5:…`, `sha1:…`) a package database vouches for there → the package. */
type Claims = Map<string, Map<string, string>>;

/**
 * Package databases (dpkg's `info/*.list` with `*.md5sums`, apk's `installed` with `Z:` checksums) as
 * layers wrote them. A file counts as packaged only when the database in the final filesystem lists it
 * with the checksum of its content, and the copy of that database written by the same layer as the
 * content does too: a later layer rewriting the database to claim a file does not make it packaged.
 */
export class PackagedFiles {
  readonly #copies = new Map<string, Copy[]>();
  readonly #final = new WeakMap<FinalFilesystem, Claims>();
  readonly #byLayer = new WeakMap<FinalFilesystem, Map<number, Claims>>();

  add(entry: EntryInfo, text: string): void {
    const copies = this.#copies.get(entry.path) ?? [];
    copies.push({ entry, text });
    this.#copies.set(entry.path, copies);
  }

  /** Whether a database vouches for `file` (under its name in `fs`) with these content digests. */
  vouches(fs: FinalFilesystem, file: FinalFile, sums: ContentSums | undefined): boolean {
    return this.owner(fs, file, sums) !== undefined;
  }

  /** The package whose database vouches for `file` (under its name in `fs`) with these content digests. */
  owner(fs: FinalFilesystem, file: FinalFile, sums: ContentSums | undefined): string | undefined {
    if (!sums) return undefined;
    const layer = file.content.layerIndex;
    // A hard link from another layer changed owner, mode or capabilities: no database recorded that.
    if (file.touchedBy.some((e) => e.layerIndex !== layer)) return undefined;
    const now = this.#finalClaims(fs).get(file.path);
    const before = this.#layerClaims(fs, layer).get(file.path);
    for (const token of tokens(sums)) {
      const pkg = now?.get(token);
      if (pkg !== undefined && before?.has(token) === true) return pkg;
    }
    return undefined;
  }

  /**
   * For content a later layer removed (it still ships): the package whose database, as the layer that
   * wrote the content left it, lists the entry's path with these digests.
   */
  ownerInLayer(fs: FinalFilesystem, entry: EntryInfo, sums: ContentSums | undefined): string | undefined {
    if (!sums) return undefined;
    const claims = this.#layerClaims(fs, entry.layerIndex).get(fs.resolvedPath(entry.path, entry.layerIndex));
    for (const token of tokens(sums)) {
      const pkg = claims?.get(token);
      if (pkg !== undefined) return pkg;
    }
    return undefined;
  }

  /** A package the database in the final filesystem lists at `path`, whatever the checksum it records. */
  listedBy(fs: FinalFilesystem, path: string): string | undefined {
    const claims = this.#finalClaims(fs).get(path);
    return claims ? [...claims.values()][0] : undefined;
  }

  #finalClaims(fs: FinalFilesystem): Claims {
    let final = this.#final.get(fs);
    if (!final) {
      final = this.#claims(fs, (path, copies) => {
        const live = fs.lookup(path);
        return copies.find((c) => c.entry === live);
      });
      this.#final.set(fs, final);
    }
    return final;
  }

  #layerClaims(fs: FinalFilesystem, layer: number): Claims {
    const perLayer = this.#byLayer.get(fs) ?? new Map<number, Claims>();
    this.#byLayer.set(fs, perLayer);
    let claims = perLayer.get(layer);
    if (!claims) {
      claims = this.#claims(fs, (_path, copies) => copies.filter((c) => c.entry.layerIndex === layer).at(-1));
      perLayer.set(layer, claims);
    }
    return claims;
  }

  #claims(fs: FinalFilesystem, choose: (path: string, copies: readonly Copy[]) => Copy | undefined): Claims {
    const claims: Claims = new Map();
    const add = (path: string, token: string, pkg: string): void => {
      const real = fs.resolve(path);
      const set = claims.get(real) ?? new Map<string, string>();
      set.set(token, pkg);
      claims.set(real, set);
    };
    for (const [path, copies] of this.#copies) {
      if (path === APK_INSTALLED) {
        const chosen = choose(path, copies);
        if (!chosen) continue;
        for (const [file, { sha1, pkg }] of (chosen.apk ??= apkSums(chosen.text))) if (sha1) add(file, `sha1:${sha1}`, pkg);
      } else if (path.endsWith('.list')) {
        const list = choose(path, copies);
        const sumsPath = `${path.slice(0, -'.list'.length)}.md5sums`;
        const sumsCopies = this.#copies.get(sumsPath);
        const sums = sumsCopies ? choose(sumsPath, sumsCopies) : undefined;
        if (!list || !sums) continue;
        const pkg = DPKG_DB.exec(path)?.[1] ?? path;
        const md5 = (sums.md5 ??= dpkgSums(sums.text));
        for (const line of (list.lines ??= list.text.split('\n'))) {
          if (!line.startsWith('/')) continue;
          const sum = md5.get(line);
          if (sum) add(line, `md5:${sum}`, pkg);
        }
      }
    }
    return claims;
  }
}

function tokens(sums: ContentSums): string[] {
  return [`md5:${sums.md5}`, `sha1:${sums.sha1}`];
}
