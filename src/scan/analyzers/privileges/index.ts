import type { Analyzer, EntryInfo, FindingSink, LayerRun } from '../../analyzer.js';
import { perEntry, type PerEntry } from '../../facts.js';
import type { FinalFile, ViewName } from '../../filesystem.js';
import { ContentHasher, isPackageFileList, PACKAGE_LIST_BYTES, packagedFilesOf, type ContentSums, type PackageLists } from '../../package-files.js';
import { decodeCapabilities, rootEquivalentCapabilities } from './capabilities.js';

const SETUID = 0o4000;
const SETGID = 0o2000;
const CAPABILITY = 'security.capability';

const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/**
 * The directories of `PATH` from the image config (the runtime's default when none is set). A relative
 * entry, or an empty one (the current directory), is looked up from the working directory.
 */
function pathDirs(config: { readonly Env?: readonly string[] | null; readonly WorkingDir?: string | null } | null | undefined): string[] {
  const value = config?.Env?.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const cwd = config?.WorkingDir?.startsWith('/') ? config.WorkingDir : '/';
  return value.split(':').map((d) => (d.startsWith('/') ? d : `${cwd}/${d || '.'}`));
}

/** The directory a resolved path is in (`/` for a name at the root). */
function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

function isSpecial(mode: number, xattrs: ReadonlyMap<string, Buffer>): boolean {
  return (mode & (SETUID | SETGID)) !== 0 || xattrs.has(CAPABILITY);
}

/** What a layer leaves: its setuid/setgid entries, its package databases, the digests of its privileged files. */
interface Facts {
  readonly special: number[];
  readonly lists: PackageLists;
  readonly sums: PerEntry<ContentSums>;
}

/** One name of a privileged file, as each view has it. */
interface Judged {
  readonly entry: EntryInfo;
  readonly seen: Array<{ view: ViewName; file: FinalFile; packaged: boolean }>;
}

/**
 * Privilege escalation a container inherits from its image: setuid and setgid files and files with
 * root-equivalent capabilities, told packaged (vouched for by the image's own dpkg or apk database,
 * content checksum included) from dropped-in; other file capabilities; world-writable files or
 * directories in `PATH`. Judged on every snapshotter's view: a file unsafe in any view blocks.
 */
export const privilegesAnalyzer: Analyzer = {
  id: 'privileges',
  version: 3,
  description: 'setuid/setgid files, file capabilities, world-writable PATH entries',
  layer(): LayerRun {
    const special: number[] = [];
    const hashing = new Map<EntryInfo, ContentHasher>();
    const lists: PackageLists = [];
    return {
      wants(entry) {
        if (entry.type === 'file' && isPackageFileList(entry.path)) return { contentBytes: PACKAGE_LIST_BYTES };
        // The content is hashed as it streams, to compare with the package databases' checksums.
        if (entry.type === 'file' && isSpecial(entry.mode, entry.xattrs)) return { contentBytes: 0, stream: true };
        return undefined;
      },
      analyzeChunk(entry, chunk) {
        let h = hashing.get(entry);
        if (!h) {
          h = new ContentHasher();
          hashing.set(entry, h);
        }
        h.update(chunk);
      },
      analyzeEntry(entry, content) {
        if (isPackageFileList(entry.path) && content) lists.push([entry.ordinal, content.toString('utf8')]);
        if ((entry.mode & (SETUID | SETGID)) !== 0) special.push(entry.ordinal);
        if (entry.type === 'file' && isSpecial(entry.mode, entry.xattrs) && !hashing.has(entry)) {
          // An empty file streams no chunk.
          hashing.set(entry, new ContentHasher());
        }
      },
      facts: (): Facts => ({ special, lists, sums: [...hashing].map(([entry, h]) => [entry.ordinal, h.digest()]) }),
    };
  },
  conclude(_context, { image, facts }, sink: FindingSink) {
    const sums = perEntry<Facts, ContentSums>(image, facts, (f) => f.sums);
    const packaged = packagedFilesOf(perEntry<Facts, string>(image, facts, (f) => f.lists), image);
    const special = [...perEntry<Facts, number>(image, facts, (f) => f.special.map((o) => [o, o])).keys()];
    const judged = new Map<string, Judged>();
    for (const { name, fs } of image.views) {
      for (const file of fs.files()) {
        if (!isSpecial(file.mode, file.xattrs)) continue;
        const key = `${file.entry.layerIndex}:${file.entry.path}`;
        const j = judged.get(key) ?? { entry: file.entry, seen: [] };
        j.seen.push({ view: name, file, packaged: packaged.vouches(fs, file, sums.get(file.content)) });
        judged.set(key, j);
      }
    }
    const viewCount = image.views.length;
    for (const j of judged.values()) reportFinal(j, viewCount, sink);

    // Copies a later layer deleted still ship in the image: worth knowing, not blocking.
    for (const entry of special) {
      if (image.views.some((v) => v.fs.isInFinal(entry.path, entry.layerIndex))) continue;
      for (const [bit, check] of [[SETUID, 'setuid'], [SETGID, 'setgid']] as const) {
        if ((entry.mode & bit) === 0) continue;
        sink.report({
          check,
          rule: `${check}-unpackaged`,
          severity: 'info',
          blocking: false,
          message: `${check} file ${entry.path} (mode ${octal(entry.mode)}, owner ${entry.uid}:${entry.gid}); a later layer removed it`,
          path: entry.path,
          layerIndex: entry.layerIndex,
        });
      }
    }

    const worldWritable = new Map<string, { entry: EntryInfo; real: string; dir: boolean; copied: boolean }>();
    for (const { fs } of image.views) {
      // Where each PATH entry leads, itself followed when it is a symlink (`/bin -> usr/bin`), as exec's lookup goes.
      const dirs = new Set(pathDirs(image.config.config).map((d) => fs.resolveDir(d)));
      for (const { path: real, entry } of fs.entries()) {
        if ((entry.mode & 0o002) === 0 || (entry.type !== 'file' && entry.type !== 'directory')) continue;
        const parent = parentOf(real);
        const isPathDir = entry.type === 'directory' && dirs.has(real);
        if (!isPathDir && !(entry.type === 'file' && dirs.has(parent))) continue;
        // A directory the runtime created for a later layer (mkparent) stands elsewhere than the entry it copied.
        const copied = real !== fs.resolvedPath(entry.path, entry.layerIndex);
        worldWritable.set(`${entry.layerIndex}:${entry.path}:${real}`, { entry, real, dir: entry.type === 'directory', copied });
      }
    }
    for (const { entry, real, dir, copied } of worldWritable.values()) {
      const how = copied ? `, which the runtime creates for a later layer's entries with the mode of ${entry.path}` : '';
      sink.report({
        check: 'world-writable',
        rule: 'world-writable-path',
        severity: 'high',
        blocking: true,
        message: `${dir ? 'PATH directory' : 'file in PATH'} ${real} is world-writable (mode ${octal(entry.mode)}${how}): any user can plant or replace commands`,
        path: entry.path,
        layerIndex: entry.layerIndex,
      });
    }
  },
};

/** Reports one privileged name: blocking when any view has it privileged and not vouched for. */
function reportFinal(j: Judged, viewCount: number, sink: FindingSink): void {
  const only = j.seen.length < viewCount ? ` (only in the ${j.seen.map((s) => s.view).join(', ')} view)` : '';
  const first = (j.seen[0] as Judged['seen'][number]).file;
  // A file that lands at another path in another view (written through a symlink) is named there too.
  const elsewhere = j.seen.filter((s) => s.file.path !== first.path).map((s) => `${s.view} view: ${s.file.path}`);
  const where = elsewhere.length ? `${first.path} (${elsewhere.join(', ')})` : first.path;
  const modes = [...new Set(j.seen.map((s) => octal(s.file.mode)))].join(' or ');
  const owners = [...new Set(j.seen.map((s) => `${s.file.uid}:${s.file.gid}`))].join(' or ');
  for (const [bit, check] of [[SETUID, 'setuid'], [SETGID, 'setgid']] as const) {
    const views = j.seen.filter((s) => (s.file.mode & bit) !== 0);
    if (views.length === 0) continue;
    const isPackaged = views.every((s) => s.packaged);
    sink.report({
      check,
      rule: `${check}-${isPackaged ? 'packaged' : 'unpackaged'}`,
      severity: isPackaged ? 'low' : 'high',
      blocking: !isPackaged,
      message: `${isPackaged ? '' : 'unpackaged '}${check} file ${where} (mode ${modes}, owner ${owners})${isPackaged ? ', installed by a package' : ', not vouched for by any package database'}${only}`,
      path: j.entry.path,
      layerIndex: j.entry.layerIndex,
    });
  }
  const withCaps = j.seen.filter((s) => s.file.xattrs.has(CAPABILITY));
  if (withCaps.length === 0) return;
  const value = (withCaps[0] as Judged['seen'][number]).file.xattrs.get(CAPABILITY) as Buffer;
  const decoded = decodeCapabilities(value);
  const names = decoded ? `${decoded.names.join(', ') || 'none'}${decoded.inheritable.length ? ` (inheritable: ${decoded.inheritable.join(', ')})` : ''}` : 'an undecodable set';
  // An undecodable set is treated as the worst one: the gate cannot tell what it grants.
  const root = withCaps.some((s) => {
    const caps = rootEquivalentCapabilities(s.file.xattrs.get(CAPABILITY) as Buffer);
    return caps === undefined || caps.length > 0;
  });
  const isPackaged = withCaps.every((s) => s.packaged);
  if (root) {
    sink.report({
      check: 'capability',
      rule: isPackaged ? 'file-capability-root-packaged' : 'file-capability-root',
      severity: isPackaged ? 'low' : 'high',
      blocking: !isPackaged,
      message: `${isPackaged ? '' : 'unpackaged '}file ${where} carries root-equivalent capabilities ${names}${decoded?.effective ? ' (effective)' : ''}${isPackaged ? ', installed by a package' : ''}${only}`,
      path: j.entry.path,
      layerIndex: j.entry.layerIndex,
    });
    return;
  }
  sink.report({
    check: 'capability',
    rule: 'file-capability',
    severity: 'medium',
    blocking: false,
    message: `file ${where} carries capabilities ${names}${decoded?.effective ? ' (effective)' : ''}${only}`,
    path: j.entry.path,
    layerIndex: j.entry.layerIndex,
  });
}
