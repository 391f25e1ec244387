import { posix } from 'node:path';
import type { EntryInfo } from './analyzer.js';
import type { Whiteout } from './paths.js';

/** What one layer did to the filesystem: recorded while it streams, applied in layer order afterwards. */
export interface LayerChanges {
  readonly layerIndex: number;
  readonly whiteouts: Whiteout[];
  readonly entries: EntryInfo[];
}

/** The filesystem a container of the image starts with. */
export interface FinalFilesystem {
  /** The entry at `path` in the final filesystem, following no symlink in the last component. */
  get(path: string): EntryInfo | undefined;
  /**
   * Whether the entry that layer `layerIndex` wrote at `path` is what the final filesystem holds
   * there; false when a later layer deleted or replaced it (it still ships in the image).
   */
  isInFinal(path: string, layerIndex: number): boolean;
  /** Where a path written by a layer really landed, after symlinked parent directories are followed. */
  resolvedPath(path: string, layerIndex: number): string;
  /** `path` with every symlinked parent directory followed (the last component is not). */
  resolve(path: string): string;
  entries(): IterableIterator<EntryInfo>;
  /**
   * The entry whose content a process reading `path` gets: symlinks followed in every component,
   * the last included, clamped inside the root; a hard link followed to the entry that carried its
   * content. Undefined when nothing is there (or a symlink loop).
   */
  lookup(path: string): EntryInfo | undefined;
}

interface Node {
  entry?: EntryInfo;
  children?: Map<string, Node>;
}

const MAX_SYMLINKS = 40;

/**
 * Applies layers in order with the runtime's semantics: a whiteout removes a path and everything
 * under it; an opaque whiteout hides what lower layers put in a directory; an entry replaces what was
 * at its path (a non-directory replaces a whole tree); parent directories that are symlinks are
 * followed, as containerd's applier follows them inside the root.
 */
export class LayeredFilesystem implements FinalFilesystem {
  readonly #root: Node = { children: new Map() };
  /** `layer:path` of entries written through a symlinked parent, to where they landed. */
  readonly #redirects = new Map<string, string>();

  apply(changes: LayerChanges): void {
    for (const whiteout of changes.whiteouts) {
      if (whiteout.kind === 'delete') {
        const resolved = this.#resolveParents(whiteout.path);
        const parent = this.#lookup(posix.dirname(resolved));
        parent?.children?.delete(posix.basename(resolved));
      } else {
        // Whiteouts go before the layer's own entries, so clearing hides exactly the lower layers' content.
        this.#lookup(this.#resolveParents(whiteout.dir))?.children?.clear();
      }
    }
    for (const entry of changes.entries) {
      if (entry.path === '/') continue;
      const resolved = this.#resolveParents(entry.path);
      if (entry.type === 'global') {
        // containerd removes whatever is at a global header's path and creates nothing there.
        this.#lookup(posix.dirname(resolved))?.children?.delete(posix.basename(resolved));
        continue;
      }
      if (resolved !== entry.path) this.#redirects.set(`${entry.layerIndex}:${entry.path}`, resolved);
      const parent = this.#mkdirs(posix.dirname(resolved));
      const name = posix.basename(resolved);
      const existing = parent.children?.get(name);
      if (entry.type === 'directory' && existing?.entry?.type === 'directory' && existing.children) {
        existing.entry = entry;
      } else if (entry.type === 'directory') {
        parent.children?.set(name, { entry, children: existing?.entry === undefined && existing?.children ? existing.children : new Map() });
      } else {
        parent.children?.set(name, { entry });
      }
    }
  }

  get(path: string): EntryInfo | undefined {
    return this.#lookup(this.#resolveParents(path))?.entry;
  }

  isInFinal(path: string, layerIndex: number): boolean {
    const landed = this.resolvedPath(path, layerIndex);
    const node = this.#lookup(landed);
    return node?.entry?.layerIndex === layerIndex && node.entry.path === path;
  }

  resolvedPath(path: string, layerIndex: number): string {
    return this.#redirects.get(`${layerIndex}:${path}`) ?? path;
  }

  resolve(path: string): string {
    return this.#resolveParents(path);
  }

  lookup(path: string): EntryInfo | undefined {
    let current = path;
    for (let hops = 0; hops <= MAX_SYMLINKS; hops++) {
      const resolved = this.#resolveParents(current);
      const entry = this.#lookup(resolved)?.entry;
      if (entry?.type === 'symlink') {
        current = entry.linkname.startsWith('/') ? entry.linkname : posix.join(posix.dirname(resolved), entry.linkname);
        continue;
      }
      if (entry?.type === 'hardlink') {
        current = entry.linkname;
        continue;
      }
      return entry;
    }
    return undefined;
  }

  *entries(): IterableIterator<EntryInfo> {
    const stack: Node[] = [this.#root];
    while (stack.length) {
      const node = stack.pop() as Node;
      if (node.entry) yield node.entry;
      if (node.children) stack.push(...node.children.values());
    }
  }

  #lookup(path: string): Node | undefined {
    let node: Node | undefined = this.#root;
    for (const part of components(path)) {
      node = node.children?.get(part);
      if (!node) return undefined;
    }
    return node;
  }

  #mkdirs(path: string): Node {
    let node = this.#root;
    for (const part of components(path)) {
      let child = node.children?.get(part);
      if (!child || !child.children) {
        // A missing parent is created; a non-directory in the way is replaced, as MkdirAll after RemoveAll would.
        child = { children: new Map() };
        node.children?.set(part, child);
      }
      node = child;
    }
    return node;
  }

  /** Follows symlinks in the directory part of `path` (never the last component), clamped inside the root. */
  #resolveParents(path: string): string {
    let pending = components(path);
    const last = pending.pop();
    if (last === undefined) return '/';
    let done: string[] = [];
    let hops = 0;
    while (pending.length) {
      const part = pending.shift() as string;
      const candidate = [...done, part];
      const node = this.#lookup(`/${candidate.join('/')}`);
      const entry = node?.entry;
      if (entry?.type === 'symlink' && hops < MAX_SYMLINKS) {
        hops++;
        const target = entry.linkname.startsWith('/') ? entry.linkname : posix.join('/', ...done, entry.linkname);
        done = components(posix.normalize(`/${target}`));
        continue;
      }
      done = candidate;
    }
    return `/${[...done, last].join('/')}`;
  }
}

function components(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}
