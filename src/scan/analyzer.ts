import type { ImageConfig } from '../oci/schemas.js';
import type { Inventory } from '../packages/types.js';
import type { RuleSet } from '../policy/load-rules.js';
import type { PackageRef, Severity } from '../report/types.js';
import type { FinalFilesystem, ViewName } from './filesystem.js';
import type { TarHeader } from './tar/header.js';

/** A tar entry as analyzers see it: the header's fields, with the path normalised as the runtime applies it. */
export interface EntryInfo extends Pick<TarHeader, 'type' | 'mode' | 'uid' | 'gid' | 'uname' | 'gname' | 'size' | 'xattrs'> {
  /** Absolute, normalised path inside the image (`/usr/bin/su`). */
  readonly path: string;
  /**
   * Symlink or hard-link target as written. Not cleaned: containerd resolves a hard link's target
   * uncleaned (`a/../x` follows a link `a` before the `..`), unlike a tar name.
   */
  readonly linkname: string;
  readonly layerIndex: number;
  /** Its position among the layer's tar entries (0-based), which tells two entries at one path apart. */
  readonly ordinal: number;
  /** The tar name was rooted (`/etc/x`, `../etc/x`): containerd may place it elsewhere than a relative one (paths.ts `isRootedName`). */
  readonly rooted?: true;
}

/** What an analyzer asks of an entry, decided on its header alone. */
export interface EntryRequest {
  /** Read up to this many bytes of content (0: header only). */
  readonly contentBytes: number;
  /** See every chunk of the content as it streams (`analyzeChunk`), whatever its size. */
  readonly stream?: boolean;
}

/** A finding before the engine places it: the engine adds layer digest, createdBy and inFinalFilesystem. */
export interface RawFinding {
  readonly check: string;
  readonly rule: string;
  readonly severity: Severity;
  readonly blocking: boolean;
  readonly message: string;
  readonly path?: string;
  /** The path as the report shows it, when that must differ from `path` (a secret in a name, redacted). */
  readonly shownPath?: string;
  readonly layerIndex?: number;
  readonly fingerprint?: string;
  readonly package?: PackageRef;
  readonly line?: number;
}

export interface FindingSink {
  report(finding: RawFinding): void;
  /** What the image holds (OS, packages), for the report and SBOMs. */
  inventory?(inventory: Inventory): void;
}

export interface LayerMeta {
  readonly index: number;
  readonly digest: string;
  readonly createdBy?: string | undefined;
}

/** What an analyzer can see once every layer has streamed past. */
export interface ImageView {
  readonly config: ImageConfig;
  readonly layers: readonly LayerMeta[];
  /** The overlay view: what containerd's default (overlayfs) snapshotter builds. */
  readonly fs: FinalFilesystem;
  /**
   * Every view a runtime may build from the layers (overlayfs, and the single-directory native
   * snapshotter); a check is safe only when it is safe in each.
   */
  readonly views: ReadonlyArray<{ readonly name: ViewName; readonly fs: FinalFilesystem }>;
  /**
   * Reads up to `maxBytes` of an entry's content by streaming its layer again (digests verified as the
   * first time): for files an analyzer could not know it needed while the layers streamed, such as the
   * target of a symlink or a hard link. Undefined for entries that carry no content.
   */
  readFile(entry: EntryInfo, maxBytes: number): Promise<Buffer | undefined>;
  /** `readFile` of many entries, each layer streamed once for all of its entries. */
  readFiles(entries: readonly EntryInfo[], maxBytes: number): Promise<Map<EntryInfo, Buffer>>;
  /** The entry a layer's facts name by ordinal; undefined when the layer has none there (a whiteout). */
  entry(layerIndex: number, ordinal: number): EntryInfo | undefined;
}

/**
 * An analyzer's work on one layer, from that layer's entries alone. What it learns is handed back as
 * `facts()`, a value that survives JSON: the engine caches it by the layer's diffID, so a layer seen
 * before is not read again. Facts name entries by their `ordinal` (the layer is implied), never hold
 * a secret's value, and are read back by the same analyzer version only.
 */
export interface LayerRun {
  wants(entry: EntryInfo): EntryRequest | undefined;
  /** Called for each wanted entry, in the layer's order. Findings reported here belong to this layer. */
  analyzeEntry(entry: EntryInfo, content: Buffer | undefined, truncated: boolean, sink: FindingSink): void;
  /** For entries asked for with `stream`: each chunk of content in order, before `analyzeEntry`. */
  analyzeChunk?(entry: EntryInfo, chunk: Buffer, offset: number): void;
  /** What this layer taught the analyzer (JSON: plain objects, arrays, strings, numbers, booleans, null). */
  facts(): unknown;
}

/** What an analyzer concludes from: the image, and the facts its layer runs left, by layer index. */
export interface Conclusion {
  readonly image: ImageView;
  /** `facts[i]` is what the analyzer's run over layer i returned (read back from the cache or fresh). */
  readonly facts: readonly unknown[];
}

/**
 * An analyzer plugin, in two steps: `layer` sees one layer's entries and leaves facts; `conclude`
 * judges the facts of all layers with the config and the final filesystem. `version` is part of
 * the layer cache's key: bump it whenever what the analyzer leaves or reports for the same bytes
 * could change.
 */
export interface Analyzer {
  readonly id: string;
  readonly version: number;
  readonly description: string;
  layer(context: AnalyzerContext): LayerRun;
  conclude(context: AnalyzerContext, conclusion: Conclusion, sink: FindingSink): void | Promise<void>;
}

/** What every analyzer run is given: the rules in force and the limits. */
export interface AnalyzerContext {
  readonly rules: RuleSet;
  /** Most bytes of one file an analyzer may ask for. */
  readonly maxFileBytes: number;
  /** Bytes the members of one archive (a jar and the jars in it) may inflate to (`limits.maxArchiveInflate`). */
  readonly maxArchiveInflateBytes?: number | undefined;
  /** The check's deadline: analyzers look at it inside loops whose length the image decides. */
  readonly signal?: AbortSignal | undefined;
}
