import { ImggateError } from '../errors.js';
import type { EntryInfo } from './analyzer.js';
import { goClean, type Whiteout } from './paths.js';

/** What one layer did to the filesystem: recorded while it streams, applied in layer order afterwards. */
export interface LayerChanges {
  readonly layerIndex: number;
  /**
   * Whiteouts and opaque markers; `at` is how many of the layer's `entries` came before it in the stream
   * (absent: before all of them).
   */
  readonly whiteouts: ReadonlyArray<Whiteout & { readonly at?: number }>;
  readonly entries: readonly EntryInfo[];
}

/** A regular file of the final filesystem under one of its names, with its inode as the kernel holds it. */
export interface FinalFile {
  /** Where the name is, every parent real (no symlink). */
  readonly path: string;
  /** The entry that created this name (a hard link's own header for a link). */
  readonly entry: EntryInfo;
  /** The entry whose bytes the file holds. */
  readonly content: EntryInfo;
  /** Permission bits after every header that touched the inode (setuid/setgid from any of them kept). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly xattrs: ReadonlyMap<string, Buffer>;
  /** Entries other than `content` that changed the inode's metadata (hard-link headers). */
  readonly touchedBy: readonly EntryInfo[];
}

/** The filesystem a container of the image starts with. */
export interface FinalFilesystem {
  /** The entry at `path` in the final filesystem, following no symlink in the last component. */
  get(path: string): EntryInfo | undefined;
  /**
   * The entry whose content the file at `path` has: symlinks followed in every component including the
   * last (clamped in the root, as the runtime reads a file), and hard links to the entry that carried
   * the bytes. Undefined when nothing is there.
   */
  lookup(path: string): EntryInfo | undefined;
  /**
   * `lookup` as containerd reads a file of the image from outside it (oci.WithUser's /etc/passwd):
   * through continuity's RootPath, which can lead elsewhere than the kernel when a link's target has a
   * `..`. `null` when RootPath gives up (too many links: containerd refuses to start the container).
   */
  lookupRootPath(path: string): EntryInfo | undefined | null;
  /**
   * Whether the entry that layer `layerIndex` wrote at `path` is what the final filesystem holds
   * there, under that name or (for a file's content) under a hard link; false when a later layer
   * deleted or replaced it (it still ships in the image).
   */
  isInFinal(path: string, layerIndex: number): boolean;
  /** Where a path written by a layer really landed, after symlinked parent directories are followed. */
  resolvedPath(path: string, layerIndex: number): string;
  /** `path` with every symlinked parent directory followed (the last component is not). */
  resolve(path: string): string;
  /** The directory `path` leads to, a link in its last component followed too (exec's PATH lookup, a reader opening a file in it). */
  resolveDir(path: string): string;
  /**
   * Every entry where it stands in this view: `path` is its place there, which is the entry's own path
   * after symlinked parents are followed, or, for a parent directory the runtime created (mkparent),
   * that directory's path, with the entry of the lower directory whose metadata it copied.
   */
  entries(): IterableIterator<PlacedEntry>;
  /** Every name of a regular file, with its inode's metadata. */
  files(): IterableIterator<FinalFile>;
}

/** An entry at its place in a view. */
export interface PlacedEntry {
  readonly path: string;
  readonly entry: EntryInfo;
}

/** Which snapshotter a view models. */
export type ViewName = 'overlay' | 'native';

interface Inode {
  content: EntryInfo;
  mode: number;
  uid: number;
  gid: number;
  xattrs: Map<string, Buffer>;
  touchedBy: EntryInfo[];
}

interface Node {
  /** The entry that made this name; undefined for a directory the applier created as a parent. */
  entry?: EntryInfo | undefined;
  children?: Map<string, Node>;
  /** Regular files (and hard links to them). */
  inode?: Inode;
  /** Symlink target (also for a hard link to a symlink). */
  symlink?: string;
  /** overlay: a whiteout device in a layer's directory. */
  whiteout?: boolean;
  /** overlay: the directory carries trusted.overlay.opaque. */
  opaque?: boolean;
}

/**
 * Work RootPath may do for one image's views, in characters of the paths it stats: a few thousand times
 * what a Debian image needs. RootPath stats every prefix of a path that leads through a link, so an
 * image of deep paths through links cost seconds an entry; past this the image is refused
 * (LIMIT_EXCEEDED), quickly, instead of the check running to its deadline.
 */
const ROOTPATH_BUDGET = 256 * 1024 * 1024;

/** continuity's RootPath gives up after this many links (the kernel after 40). */
const MAX_SYMLINKS = 255;
const GLOBAL_HEADER: string = 'global';
const U32 = 2 ** 32;

/** An owner id as lchown gives it to the kernel: 32 bits, and -1 (all ones) leaves the old one. */
function kernelId(id: number, previous: number): number {
  const v = ((id % U32) + U32) % U32;
  return v === U32 - 1 ? previous : v;
}

function components(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

/** Go's filepath.Join: the non-empty elements joined and cleaned, '' when there are none. */
function goJoin(...elements: string[]): string {
  const kept = elements.filter((e) => e !== '');
  return kept.length ? goClean(kept.join('/')) : '';
}

/** One RootPath call's state: links followed, and the prefixes stat'ed (no link there) with their nodes. */
interface Walked {
  links: number;
  readonly seen: Map<string, Node | undefined>;
}

function isDir(node: Node | undefined): node is Node & { children: Map<string, Node> } {
  return node?.children !== undefined;
}

/** One directory tree as an applier builds it, with containerd's path handling. */
class Tree {
  readonly root: Node = { children: new Map() };
  constructor(
    private readonly maxDirectoryEntries = Infinity,
    /** Characters of paths RootPath has stat'ed, shared by the trees of one build (ROOTPATH_BUDGET). */
    private readonly spent: { chars: number } = { chars: 0 },
  ) {}

  /** Adds a name to a directory, refusing a directory grown past `limits.maxDirectoryEntries`. */
  #put(dir: Node & { children: Map<string, Node> }, name: string, node: Node): void {
    if (dir.children.size >= this.maxDirectoryEntries && !dir.children.has(name)) {
      throw new ImggateError('LIMIT_EXCEEDED', `a directory of the image holds more than ${this.maxDirectoryEntries} entries (limits.maxDirectoryEntries)`);
    }
    dir.children.set(name, node);
  }
  /** `layer:path` of entries that landed somewhere else than their name says. */
  readonly redirects = new Map<string, string>();

  /**
   * Resolves `parts` as the kernel does, inside the image: symlinks followed in every component (the last
   * too when `followLast`), `..` clamped at the root. Linear in the depth plus the links followed. Reads
   * go this way; where containerd writes an entry is `place`'s (RootPath). `straight`:
   * no symlink was followed and no `..` taken, so the way is the names themselves, each below the last.
   */
  walk(parts: readonly string[], followLast: boolean): { names: string[]; node: Node | undefined; straight: boolean } {
    const pending = [...parts].reverse();
    const names: string[] = [];
    // nodes[i] is what names[i] is (undefined once a component is missing).
    const nodes: Array<Node | undefined> = [];
    const current = (): Node | undefined => (nodes.length ? nodes[nodes.length - 1] : this.root);
    let hops = 0;
    let straight = true;
    while (pending.length) {
      const part = pending.pop() as string;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        straight = false;
        names.pop();
        nodes.pop();
        continue;
      }
      const child = current()?.children?.get(part);
      const last = pending.length === 0;
      if (child?.symlink !== undefined && (!last || followLast) && hops < MAX_SYMLINKS) {
        hops++;
        straight = false;
        if (child.symlink.startsWith('/')) {
          names.length = 0;
          nodes.length = 0;
        }
        const target = child.symlink.split('/');
        for (let i = target.length - 1; i >= 0; i--) pending.push(target[i] as string);
        continue;
      }
      names.push(part);
      nodes.push(child);
    }
    return { names, node: current(), straight };
  }

  /**
   * The directory containerd writes an entry of `parts` into: continuity's RootPath (fs/path.go, the
   * version containerd 1.6 applies layers with) over the tar name as writers give it, relative. It
   * differs from the kernel's resolution (`walk`) when a followed link's target has a `..`: RootPath
   * joins a target to the path before it and cleans it lexically (`l -> b/..` is the root even when
   * `b` is a link), and at a `..` after a link it joins a link found there to the wrong directory.
   * Without a link on the way both give the same names, and the kernel's walk is the cheaper.
   * Too many links: containerd refuses the layer; the kernel's walk places it, to judge it anyway.
   */
  place(parts: readonly string[], rooted = false): { names: string[]; straight: boolean } {
    const kernel = this.walk(parts, true);
    if (kernel.straight) return kernel;
    const real = this.rootPath(`${rooted ? '/' : ''}${parts.join('/')}/`);
    return real === undefined ? kernel : { names: components(real), straight: false };
  }

  /**
   * What containerd's mkparent finds for `names` in a lower layer's own directory: os.Lstat of
   * continuity's RootPath, as `place` resolves it (the kernel's walk without a link on the way, or
   * when RootPath gives up on too many links).
   */
  lstatRootPath(names: readonly string[]): Node | undefined {
    return this.walk(this.place(names, true).names, false).node;
  }

  /** continuity's RootPath, relative to this tree's root; undefined for errTooManyLinks. */
  rootPath(path: string): string | undefined {
    const walked: Walked = { links: 0, seen: new Map() };
    for (;;) {
      const before = walked.links;
      const next = this.#walkLinks(path, walked);
      if (next === undefined) return undefined;
      path = next;
      if (before === walked.links) {
        const rooted = goJoin('/', next);
        if (path === rooted) return rooted;
        path = rooted;
      }
    }
  }

  /** `clean`: `path` is known to be absolute and clean already (Join of a stat'ed prefix and a plain name). */
  #walkLink(path: string, walked: Walked, clean = false): { path: string; link: boolean } | undefined {
    if (walked.links > MAX_SYMLINKS) return undefined;
    return this.#lstat(clean ? path : goJoin('/', path), walked);
  }

  #lstat(clean: string, walked: Walked): { path: string; link: boolean } {
    this.spent.chars += clean.length;
    if (this.spent.chars > ROOTPATH_BUDGET) {
      throw new ImggateError('LIMIT_EXCEEDED', `the layers' paths lead through links so deep that placing their entries as containerd does would take more than ${ROOTPATH_BUDGET} steps; refusing the image`);
    }
    if (clean === '/') return { path: clean, link: false };
    // os.Lstat: the kernel resolves every component but the last (an absolute link there leads out of
    // the snapshot on the host, which no model of the image can follow: it is resolved in the image).
    // RootPath stats each prefix of a path in turn: a prefix already stat'ed (no link there, so the
    // kernel's resolution of it is that node) serves as the parent, so a deep path is not walked from
    // the root again at every level.
    const slash = clean.lastIndexOf('/');
    const base = clean.slice(slash + 1);
    const parentPath = slash === 0 ? '/' : clean.slice(0, slash);
    const parent = parentPath === '/' ? this.root : walked.seen.has(parentPath) ? walked.seen.get(parentPath) : this.walk(components(parentPath), true).node;
    const node = isDir(parent) ? parent.children.get(base) : undefined;
    if (node?.symlink === undefined) {
      walked.seen.set(clean, node);
      return { path: clean, link: false };
    }
    walked.links++;
    return { path: node.symlink, link: true };
  }

  /**
   * continuity's walkLinks, which recurses once per component, leftmost first: unrolled into a loop, so that
   * no depth of path overflows the stack (links whose targets each add a thousand components did).
   */
  #walkLinks(path: string, walked: Walked): string | undefined {
    const parts = path.split('/');
    // A rooted path starts from `/`; a relative one from its first name, stat'ed as rooted, whose link
    // target (when it is one) is taken as it is written.
    let newdir = '/';
    if (parts[0] !== '') {
      const first = this.#walkLink(parts[0] as string, walked);
      if (first === undefined) return undefined;
      newdir = first.path;
    }
    for (let i = 1; i < parts.length; i++) {
      const file = parts[i] as string;
      if (file === '') continue;
      // A plain name below a prefix just stat'ed: the join is already clean. Cleaning it again at every level
      // made a deep path quadratic (depth 200, 2,000 entries through a link: 16 s).
      const plain = file !== '.' && file !== '..';
      const found =
        plain && (newdir === '/' || walked.seen.has(newdir))
          ? this.#walkLink(newdir === '/' ? `/${file}` : `${newdir}/${file}`, walked, true)
          : this.#walkLink(goJoin(newdir, file), walked);
      if (found === undefined) return undefined;
      newdir = !found.link || found.path.startsWith('/') ? found.path : goJoin(newdir, found.path);
    }
    return newdir;
  }

  /** The node at exactly these names (no link followed). */
  at(names: readonly string[]): Node | undefined {
    let node: Node | undefined = this.root;
    for (const n of names) {
      node = node?.children?.get(n);
      if (!node) return undefined;
    }
    return node;
  }

  /**
   * Creates missing parents (mkparent); a non-directory in the way makes the runtime refuse the layer,
   * and is replaced here so the rest of the layer is still judged (conservative either way).
   */
  mkdirs(names: readonly string[], inherit: (names: readonly string[]) => EntryInfo | undefined): Node & { children: Map<string, Node> } {
    let node = this.root as Node & { children: Map<string, Node> };
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      let child = node.children.get(name);
      if (!isDir(child)) {
        child = { children: new Map(), entry: inherit(names.slice(0, i + 1)) };
        this.#put(node, name, child);
      }
      node = child as Node & { children: Map<string, Node> };
    }
    return node;
  }

  /**
   * Applies one layer in stream order, as containerd 1.6's applyNaive does. `overlay`: whiteouts become
   * whiteout devices and opaque flags in this tree (each layer gets its own tree); otherwise they remove.
   */
  apply(changes: LayerChanges, overlay: boolean, inherit: (names: readonly string[]) => EntryInfo | undefined): void {
    // containerd's unpackedPaths: the paths (as landed) this layer wrote an entry at, a PAX global header
    // included. An opaque marker keeps what is at such a path now, even a directory mkparent made there
    // after a whiteout removed the entry, and everything the layer put below it.
    const unpacked = new Set<string>();
    type Op = { kind: 'entry'; entry: EntryInfo } | { kind: 'whiteout'; whiteout: Whiteout };
    const ops: Op[] = [];
    const wos = [...changes.whiteouts].sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
    let w = 0;
    changes.entries.forEach((entry, i) => {
      while (w < wos.length && ((wos[w] as { at?: number }).at ?? 0) <= i) ops.push({ kind: 'whiteout', whiteout: wos[w++] as Whiteout });
      ops.push({ kind: 'entry', entry });
    });
    while (w < wos.length) ops.push({ kind: 'whiteout', whiteout: wos[w++] as Whiteout });

    // Entries come mostly a directory at a time: the last parent's walk and mkdirs serve the entries after
    // it in the same parent. Such an entry changes only that directory's children, which are on the way to
    // it only when the walk went through a symlink or `..` (`bin -> /` then `bin/bin`; `e -> a/b/..` then
    // `e/b`): only a straight walk is reused. An entry elsewhere walks anew, and a whiteout (which can
    // remove the way) ends the reuse.
    let parent: { key: string; dir: Node & { children: Map<string, Node> }; landed: string } | undefined;
    for (const op of ops) {
      if (op.kind === 'whiteout') {
        parent = undefined;
        const wo = op.whiteout;
        if (wo.kind === 'opaque') {
          const { names } = this.place(components(wo.dir), wo.rooted);
          const dir = this.mkdirs(names, inherit);
          if (overlay) dir.opaque = true;
          else removeUnpacked(dir, names.map((n) => `/${n}`).join(''), unpacked);
        } else {
          const parts = components(wo.path);
          const base = parts.pop();
          if (base === undefined) continue;
          const { names } = this.place(parts, wo.rooted);
          const dir = this.mkdirs(names, inherit);
          if (overlay) this.#put(dir, base, { whiteout: true });
          else dir.children.delete(base);
        }
        continue;
      }
      const entry = op.entry;
      const slash = entry.path.lastIndexOf('/');
      let base = entry.path.slice(slash + 1);
      let dir: Node & { children: Map<string, Node> };
      let landed: string;
      if (parent !== undefined && slash >= 0 && parent.key === entry.path.slice(0, slash) && base !== '' && base !== '.' && base !== '..') {
        dir = parent.dir;
        landed = `${parent.landed}/${base}`;
      } else {
        const parts = components(entry.path);
        const last = parts.pop();
        if (last === undefined) continue; // the root itself: containerd ignores it
        base = last;
        const { names, straight } = this.place(parts, entry.rooted);
        dir = this.mkdirs(names, inherit);
        const landedParent = names.map((n) => `/${n}`).join('');
        landed = `${landedParent}/${base}`;
        // Only a parent written as the path's own prefix is reused (`/a/./b` and `/a/b/` walk the slow way).
        parent = straight && slash >= 0 && entry.path.slice(slash + 1) === base ? { key: entry.path.slice(0, slash), dir, landed: landedParent } : undefined;
      }
      if (landed !== entry.path) this.redirects.set(`${entry.layerIndex}:${entry.path}`, landed);
      const existing = dir.children.get(base);
      if (entry.type === 'directory' && isDir(existing)) {
        existing.entry = entry;
        unpacked.add(landed);
        continue;
      }
      dir.children.delete(base);
      unpacked.add(landed);
      if (entry.type === GLOBAL_HEADER) {
        // A PAX global header removes what was there and creates nothing (createTarFile ignores it).
        continue;
      }
      const node = this.#create(entry);
      this.#put(dir, base, node);
    }
  }

  #create(entry: EntryInfo): Node {
    switch (entry.type) {
      case 'directory':
        return { entry, children: new Map() };
      case 'symlink':
        return { entry, symlink: entry.linkname };
      case 'file':
        return { entry, inode: { content: entry, mode: entry.mode & 0o7777, uid: kernelId(entry.uid, 0), gid: kernelId(entry.gid, 0), xattrs: new Map(entry.xattrs), touchedBy: [] } };
      case 'hardlink': {
        const target = this.#linkTarget(entry.linkname);
        if (target?.symlink !== undefined) return { entry, symlink: target.symlink };
        const inode = target?.inode;
        if (!inode) {
          // The runtime refuses a link to nothing (or to a directory); judged as a file of its own.
          return { entry, inode: { content: entry, mode: entry.mode & 0o7777, uid: kernelId(entry.uid, 0), gid: kernelId(entry.gid, 0), xattrs: new Map(entry.xattrs), touchedBy: [] } };
        }
        // lchown, setxattr and chmod all act on the shared inode. Whether chmod applies has varied across
        // containerd versions, so setuid/setgid bits from either header are kept (conservative).
        inode.uid = kernelId(entry.uid, inode.uid);
        inode.gid = kernelId(entry.gid, inode.gid);
        for (const [k, v] of entry.xattrs) inode.xattrs.set(k, v);
        inode.mode = (entry.mode & 0o7777) | (inode.mode & 0o6000);
        inode.touchedBy.push(entry);
        return { entry, inode };
      }
      default:
        return { entry };
    }
  }

  /**
   * What a hard link's target name leads to: containerd's hardlinkRootPath splits the name as written
   * (never cleaned, unlike a tar name) at its last slash, resolves the directory part with RootPath, which
   * follows a link before a `..` that comes after it (`a/../s` with `a -> d/e` is /d/s, not /s), and
   * joins the last part to it without following it.
   */
  #linkTarget(linkname: string): Node | undefined {
    const slash = linkname.lastIndexOf('/');
    const dir = linkname.slice(0, slash + 1);
    const base = linkname.slice(slash + 1);
    // Without a link or a `..` on the way, RootPath gives the names themselves, as the kernel's walk does.
    const kernel = this.walk(components(dir), true);
    const real = kernel.straight ? `/${kernel.names.join('/')}` : this.rootPath(dir);
    return real === undefined ? undefined : this.at(components(goJoin(real, base)));
  }
}

/**
 * The native applier's opaque marker on the directory at `path`: removes from it whatever is at a path
 * this layer did not unpack at (containerd's filepath.Walk, which descends into the directories it keeps).
 */
function removeUnpacked(dir: Node, path: string, unpacked: ReadonlySet<string>): void {
  const stack: Array<{ node: Node; path: string }> = [{ node: dir, path }];
  while (stack.length) {
    const { node, path: at } = stack.pop() as { node: Node; path: string };
    for (const [name, child] of node.children ?? []) {
      const childPath = `${at}/${name}`;
      if (!unpacked.has(childPath)) node.children?.delete(name);
      else if (isDir(child)) stack.push({ node: child, path: childPath });
    }
  }
}

/** overlayfs' merge of per-layer directories (top first): whiteouts hide, opaque stops, a non-directory ends. */
function mergeDirs(layers: readonly Node[], isRoot: boolean): Node {
  const top = layers[0] as Node;
  const stack: Array<{ out: Node; dirs: readonly Node[]; root: boolean }> = [];
  const out: Node = { entry: top.entry, children: new Map() };
  stack.push({ out, dirs: layers, root: isRoot });
  while (stack.length) {
    const { out: target, dirs, root } = stack.pop() as { out: Node; dirs: readonly Node[]; root: boolean };
    // Lower layers are merged below a directory until one of them marks it opaque (ignored on the root).
    const visible: Node[] = [];
    for (const d of dirs) {
      visible.push(d);
      if (d.opaque && !root) break;
    }
    const names = new Set<string>();
    for (const d of visible) for (const name of d.children?.keys() ?? []) names.add(name);
    for (const name of names) {
      const found: Node[] = [];
      let file: Node | undefined;
      for (const d of visible) {
        const child = d.children?.get(name);
        if (!child) continue;
        if (child.whiteout) break;
        if (!isDir(child)) {
          if (found.length === 0) file = child;
          break;
        }
        found.push(child);
      }
      if (found.length) {
        const merged: Node = { entry: (found[0] as Node).entry, children: new Map() };
        target.children?.set(name, merged);
        stack.push({ out: merged, dirs: found, root: false });
      } else if (file) target.children?.set(name, file);
    }
  }
  return out;
}

/**
 * Files a view keeps listed for the analyzers after the first; a view of more is walked again each
 * time, so a small `limits.maxHeap` still holds for a huge image (100,000 files kept: about 20 MiB).
 */
const FILES_KEPT = 100_000;

/** The entry whose content a name gives a reader: a hard link's content, nothing for a whiteout. */
function contentOf(node: Node | undefined): EntryInfo | undefined {
  if (!node || node.whiteout) return undefined;
  return node.inode?.content ?? node.entry;
}

/** One finished view of the image's filesystem. */
class View implements FinalFilesystem {
  readonly #tree: Tree;
  readonly #redirects: ReadonlyMap<string, string>;
  #live: Set<string> | undefined;
  /** Directories resolved so far (the view does not change once built). */
  readonly #dirs = new Map<string, string>();
  #files: FinalFile[] | undefined;

  constructor(tree: Tree, redirects: ReadonlyMap<string, string>) {
    this.#tree = tree;
    this.#redirects = redirects;
  }

  get(path: string): EntryInfo | undefined {
    return this.#tree.walk(components(path), false).node?.entry;
  }

  lookup(path: string): EntryInfo | undefined {
    return contentOf(this.#tree.walk(components(path), true).node);
  }

  lookupRootPath(path: string): EntryInfo | undefined | null {
    const real = this.#tree.rootPath(path);
    return real === undefined ? null : contentOf(this.#tree.at(components(real)));
  }

  isInFinal(path: string, layerIndex: number): boolean {
    if (!this.#live) {
      this.#live = new Set();
      for (const { node } of this.#walkAll()) {
        if (node.entry) this.#live.add(`${node.entry.layerIndex}:${node.entry.path}`);
        if (node.inode) this.#live.add(`${node.inode.content.layerIndex}:${node.inode.content.path}`);
      }
    }
    return this.#live.has(`${layerIndex}:${path}`);
  }

  resolvedPath(path: string, layerIndex: number): string {
    return this.#redirects.get(`${layerIndex}:${path}`) ?? path;
  }

  resolveDir(path: string): string {
    // A name below it has every component of `path` as a parent, so `resolve` follows them all.
    const child = this.resolve(`${path.replace(/\/+$/, '')}/-`);
    return child.slice(0, child.lastIndexOf('/')) || '/';
  }

  resolve(path: string): string {
    // Package databases ask for thousands of names in a few hundred directories: each directory is walked once.
    const slash = path.lastIndexOf('/');
    const name = path.slice(slash + 1);
    if (slash >= 0 && name !== '' && name !== '.' && name !== '..') {
      const dir = path.slice(0, slash);
      let real = this.#dirs.get(dir);
      if (real === undefined) {
        real = this.#tree.walk(components(dir), true).names.map((n) => `/${n}`).join('');
        this.#dirs.set(dir, real);
      }
      return `${real}/${name}`;
    }
    const parts = components(path);
    const last = parts.pop();
    if (last === undefined) return '/';
    return `/${[...this.#tree.walk(parts, true).names, last].join('/')}`;
  }

  *entries(): IterableIterator<PlacedEntry> {
    for (const { node, path } of this.#walkAll()) if (node.entry) yield { path, entry: node.entry };
  }

  files(): IterableIterator<FinalFile> {
    // Several analyzers conclude over every file: the list is made once, unless the image is huge.
    if (this.#files === undefined) {
      const all: FinalFile[] = [];
      for (const file of this.#walkFiles()) {
        if (all.length === FILES_KEPT) return this.#walkFiles();
        all.push(file);
      }
      this.#files = all;
    }
    return this.#files.values();
  }

  *#walkFiles(): IterableIterator<FinalFile> {
    for (const { node, path } of this.#walkAll()) {
      const inode = node.inode;
      if (!inode || !node.entry) continue;
      yield { path, entry: node.entry, content: inode.content, mode: inode.mode, uid: inode.uid, gid: inode.gid, xattrs: inode.xattrs, touchedBy: inode.touchedBy };
    }
  }

  /** Every node with its path; iterative, so neither depth nor width can overflow the stack. */
  *#walkAll(): IterableIterator<{ node: Node; path: string }> {
    const stack: Array<{ node: Node; path: string }> = [{ node: this.#tree.root, path: '/' }];
    while (stack.length) {
      const item = stack.pop() as { node: Node; path: string };
      if (item.node.whiteout) continue;
      yield item;
      for (const [name, child] of item.node.children ?? []) stack.push({ node: child, path: item.path === '/' ? `/${name}` : `${item.path}/${name}` });
    }
  }
}

/** Both views a runtime may build from the layers: overlayfs (containerd's default) and native. */
export interface Views {
  readonly overlay: FinalFilesystem;
  readonly native: FinalFilesystem;
}

/**
 * Applies layers as containerd's snapshotters do. overlay: each layer applied into its own directory
 * (symlinks of earlier layers are not followed when a later layer writes or whites out through them;
 * whiteouts are devices, opaque markers flags, ignored on `/`), then merged as overlayfs merges.
 * native: every layer applied in order into one directory, whiteouts and opaque markers removing.
 */
export function buildViews(layers: readonly LayerChanges[], limits: { readonly maxDirectoryEntries?: number } = {}): Views {
  const cap = limits.maxDirectoryEntries ?? Infinity;
  const spent = { chars: 0 };
  const native = new Tree(cap, spent);
  const uppers: Tree[] = [];
  const redirects = new Map<string, string>();
  for (const changes of layers) {
    native.apply(changes, false, () => undefined);
    const upper = new Tree(cap, spent);
    const lowers = [...uppers].reverse();
    // mkparent copies a created parent's metadata from the topmost lower layer that has it, found there
    // by RootPath: a directory gives its mode, owner and xattrs; anything else, nothing.
    upper.apply(changes, true, (names) => {
      for (const lower of lowers) {
        const found = lower.lstatRootPath(names);
        if (found === undefined) continue;
        return isDir(found) ? found.entry : undefined;
      }
      return undefined;
    });
    for (const [k, v] of upper.redirects) redirects.set(k, v);
    uppers.push(upper);
  }
  const merged = new Tree();
  const roots = [...uppers].reverse().map((t) => t.root);
  if (roots.length) {
    const root = mergeDirs(roots, true);
    merged.root.children = root.children ?? new Map();
  }
  return { overlay: new View(merged, redirects), native: new View(native, native.redirects) };
}

/**
 * The overlay view, built from layers applied one at a time (kept for callers that apply layers
 * themselves; the engine uses `buildViews`).
 */
export class LayeredFilesystem implements FinalFilesystem {
  readonly #layers: LayerChanges[] = [];
  #view: FinalFilesystem | undefined;

  apply(changes: LayerChanges): void {
    this.#layers.push(changes);
    this.#view = undefined;
  }

  get #fs(): FinalFilesystem {
    this.#view ??= buildViews(this.#layers).overlay;
    return this.#view;
  }

  get(path: string): EntryInfo | undefined {
    return this.#fs.get(path);
  }
  lookup(path: string): EntryInfo | undefined {
    return this.#fs.lookup(path);
  }
  lookupRootPath(path: string): EntryInfo | undefined | null {
    return this.#fs.lookupRootPath(path);
  }
  isInFinal(path: string, layerIndex: number): boolean {
    return this.#fs.isInFinal(path, layerIndex);
  }
  resolvedPath(path: string, layerIndex: number): string {
    return this.#fs.resolvedPath(path, layerIndex);
  }
  resolve(path: string): string {
    return this.#fs.resolve(path);
  }
  resolveDir(path: string): string {
    return this.#fs.resolveDir(path);
  }
  entries(): IterableIterator<PlacedEntry> {
    return this.#fs.entries();
  }
  files(): IterableIterator<FinalFile> {
    return this.#fs.files();
  }
}
