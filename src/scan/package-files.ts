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
export function packagedFilesOf(lists: ReadonlyMap<EntryInfo, string>, image?: object): PackagedFiles {
  const known = image ? shared.get(image) : undefined;
  if (known && sameLists(known.lists, lists)) return known.packaged;
  const packaged = new PackagedFiles();
  for (const [entry, text] of lists) packaged.add(entry, text);
  if (image) shared.set(image, { lists, packaged });
  return packaged;
}

/**
 * The package files of an image, by the image they were read for: the analyzers that keep their own
 * copies of the same lists (privileges, secrets) share one index, which is the costly part.
 */
const shared = new WeakMap<object, { readonly lists: ReadonlyMap<EntryInfo, string>; readonly packaged: PackagedFiles }>();

function sameLists(a: ReadonlyMap<EntryInfo, string>, b: ReadonlyMap<EntryInfo, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [entry, text] of a) if (b.get(entry) !== text) return false;
  return true;
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
  /** Listed paths by their last name (dpkg's `.list` lines; apk's files with their checksum and package). */
  listed?: Map<string, string[]>;
  apk?: Map<string, Array<{ file: string; sha1: string; pkg: string }>>;
};

/** The last name of a path as `FinalFilesystem.resolve` keeps it (`/a/b/.` ends in `b`; `/` in ''). */
function lastName(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (name !== '' && name !== '.') return name;
  return path.split('/').filter((p) => p !== '' && p !== '.').at(-1) ?? '';
}

function byLastName<T>(items: Iterable<T>, pathOf: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const name = lastName(pathOf(item));
    const list = out.get(name);
    if (list) list.push(item);
    else out.set(name, [item]);
  }
  return out;
}

/** Which copy of a database (or of its md5sums) answers: the live one in a view, or a layer's own. */
type Choose = (path: string, copies: readonly Copy[]) => Copy | undefined;

/**
 * Package databases (dpkg's `info/*.list` with `*.md5sums`, apk's `installed` with `Z:` checksums) as
 * layers wrote them. A file counts as packaged only when the database in the final filesystem lists it
 * with the checksum of its content, and the copy of that database written by the same layer as the
 * content does too: a later layer rewriting the database to claim a file does not make it packaged.
 *
 * A question is about one path: only the listed paths with the same last name are resolved in the
 * view (a Debian image lists tens of thousands of paths; a check asks about a few dozen files).
 */
export class PackagedFiles {
  readonly #copies = new Map<string, Copy[]>();
  /** Last name → the databases (in the order they were added) some copy of which lists a path by that name. */
  #names: Map<string, Set<string>> | undefined;

  add(entry: EntryInfo, text: string): void {
    const copies = this.#copies.get(entry.path) ?? [];
    copies.push({ entry, text });
    this.#copies.set(entry.path, copies);
    this.#names = undefined;
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
    const now = this.#claimsAt(fs, file.path, this.#live(fs));
    const before = this.#claimsAt(fs, file.path, this.#inLayer(layer));
    for (const token of tokens(sums)) {
      const pkg = now.get(token);
      if (pkg !== undefined && before.has(token)) return pkg;
    }
    return undefined;
  }

  /**
   * For content a later layer removed (it still ships): the package whose database, as the layer that
   * wrote the content left it, lists the entry's path with these digests.
   */
  ownerInLayer(fs: FinalFilesystem, entry: EntryInfo, sums: ContentSums | undefined): string | undefined {
    if (!sums) return undefined;
    const claims = this.#claimsAt(fs, fs.resolvedPath(entry.path, entry.layerIndex), this.#inLayer(entry.layerIndex));
    for (const token of tokens(sums)) {
      const pkg = claims.get(token);
      if (pkg !== undefined) return pkg;
    }
    return undefined;
  }

  /** A package the database in the final filesystem lists at `path`, whatever the checksum it records. */
  listedBy(fs: FinalFilesystem, path: string): string | undefined {
    return [...this.#claimsAt(fs, path, this.#live(fs)).values()][0];
  }

  #live(fs: FinalFilesystem): Choose {
    return (path, copies) => {
      const live = fs.lookup(path);
      return copies.find((c) => c.entry === live);
    };
  }

  #inLayer(layer: number): Choose {
    return (_path, copies) => copies.filter((c) => c.entry.layerIndex === layer).at(-1);
  }

  #index(): Map<string, Set<string>> {
    if (this.#names) return this.#names;
    const names = new Map<string, Set<string>>();
    for (const [path, copies] of this.#copies) {
      if (path !== APK_INSTALLED && !path.endsWith('.list')) continue;
      for (const copy of copies) {
        for (const name of this.#listed(path, copy).keys()) {
          const dbs = names.get(name);
          if (dbs) dbs.add(path);
          else names.set(name, new Set([path]));
        }
      }
    }
    this.#names = names;
    return names;
  }

  #listed(path: string, copy: Copy): Map<string, unknown[]> {
    return path === APK_INSTALLED ? this.#apkFiles(copy) : this.#listLines(copy);
  }

  /** apk's files with a checksum, by last name. */
  #apkFiles(copy: Copy): NonNullable<Copy['apk']> {
    return (copy.apk ??= byLastName(
      [...apkSums(copy.text)].flatMap(([file, { sha1, pkg }]) => (sha1 ? [{ file, sha1, pkg }] : [])),
      (c) => c.file,
    ));
  }

  /** A dpkg `.list`'s paths, by last name. */
  #listLines(copy: Copy): NonNullable<Copy['listed']> {
    return (copy.listed ??= byLastName(
      copy.text.split('\n').filter((line) => line.startsWith('/')),
      (line) => line,
    ));
  }

  /** Digest (`md5:…`, `sha1:…`) → package, for what the chosen copies list at `path` (a name in `fs`). */
  #claimsAt(fs: FinalFilesystem, path: string, choose: Choose): Map<string, string> {
    const claims = new Map<string, string>();
    const name = lastName(path);
    // Databases in the order they were added, and lines in their order: a later claim of the same digest wins.
    for (const db of this.#index().get(name) ?? []) {
      const copies = this.#copies.get(db) ?? [];
      const chosen = choose(db, copies);
      if (!chosen) continue;
      if (db === APK_INSTALLED) {
        for (const { file, sha1, pkg } of this.#apkFiles(chosen).get(name) ?? []) if (fs.resolve(file) === path) claims.set(`sha1:${sha1}`, pkg);
        continue;
      }
      const sumsPath = `${db.slice(0, -'.list'.length)}.md5sums`;
      const sumsCopies = this.#copies.get(sumsPath);
      const sums = sumsCopies ? choose(sumsPath, sumsCopies) : undefined;
      if (!sums) continue;
      const pkg = DPKG_DB.exec(db)?.[1] ?? db;
      const md5 = (sums.md5 ??= dpkgSums(sums.text));
      for (const line of this.#listLines(chosen).get(name) ?? []) {
        const sum = md5.get(line);
        if (sum && fs.resolve(line) === path) claims.set(`md5:${sum}`, pkg);
      }
    }
    return claims;
  }
}

function tokens(sums: ContentSums): string[] {
  return [`md5:${sums.md5}`, `sha1:${sums.sha1}`];
}
