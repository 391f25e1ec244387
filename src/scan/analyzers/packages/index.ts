import { GoBuildInfoScanner } from '../../../packages/go-buildinfo.js';
import { jarPackages } from '../../../packages/jar.js';
import { DEFAULT_ARCHIVE_INFLATE_BYTES } from '../../../packages/zip.js';
import { parseRpmSqlite } from '../../../packages/rpmdb.js';
import { normalizePythonName, parseApkInstalled, parseDpkgStatus, parseNpmPackageJson, parseOsRelease, parsePythonMetadata, type ParsedPackage } from '../../../packages/parsers.js';
import type { InstalledPackage, OsInfo } from '../../../packages/types.js';
import type { Ecosystem } from '../../../packages/versions/index.js';
import type { Analyzer, AnalyzerContext, EntryInfo, FindingSink, ImageView, LayerRun } from '../../analyzer.js';
import { fromFact, perEntry, toFact, type PerEntry } from '../../facts.js';
import type { FinalFile, FinalFilesystem } from '../../filesystem.js';

const DB_BYTES = 64 * 1024 * 1024;
const MANIFEST_BYTES = 1024 * 1024;
/** Java archives are read whole (a zip's directory is at its end); larger ones are reported as not inventoried. */
const JAR_BYTES = 128 * 1024 * 1024;

interface Source {
  readonly ecosystem: Ecosystem;
  readonly bytes: number;
  /** `problem` says what in the file could not be read, so its packages are not all known. */
  parse(entry: EntryInfo, content: Buffer | undefined, problem: (message: string) => void): ParsedPackage[];
}

/** Which files are package databases or manifests, and how each is read. */
function sourceOf(path: string, maxInflateBytes: number): Source | undefined {
  if (path === '/var/lib/dpkg/status') return { ecosystem: 'deb', bytes: DB_BYTES, parse: (_e, c) => parseDpkgStatus(c?.toString('utf8') ?? '', true) };
  if (path.startsWith('/var/lib/dpkg/status.d/') && !path.endsWith('.md5sums')) return { ecosystem: 'deb', bytes: MANIFEST_BYTES, parse: (_e, c) => parseDpkgStatus(c?.toString('utf8') ?? '', false) };
  if (path === '/lib/apk/db/installed') return { ecosystem: 'apk', bytes: DB_BYTES, parse: (_e, c) => parseApkInstalled(c?.toString('utf8') ?? '') };
  if (/\/node_modules\/(?:@[^/]+\/)?[^/@][^/]*\/package\.json$/.test(path)) {
    return { ecosystem: 'npm', bytes: MANIFEST_BYTES, parse: (_e, c) => [parseNpmPackageJson(c?.toString('utf8') ?? '')].filter((p): p is ParsedPackage => p !== undefined) };
  }
  if (/\.dist-info\/METADATA$/.test(path) || /\.egg-info\/PKG-INFO$/.test(path) || (/\.egg-info$/.test(path) && !path.endsWith('/'))) {
    return {
      ecosystem: 'pypi',
      bytes: MANIFEST_BYTES,
      parse: (_e, c) => {
        const p = parsePythonMetadata(c?.toString('utf8') ?? '');
        return p ? [{ ...p, name: normalizePythonName(p.name) }] : [];
      },
    };
  }
  if (/\.(jar|war|ear)$/.test(path)) {
    return {
      ecosystem: 'maven',
      bytes: JAR_BYTES,
      parse: (_e, c, problem) => {
        if (!c) return [];
        const { packages, problems } = jarPackages(c, { remaining: maxInflateBytes, limit: maxInflateBytes, what: path });
        problems.forEach(problem);
        return packages.map(({ inner: _inner, ...p }) => p);
      },
    };
  }
  const gem = /\/specifications\/([^/]+)-([0-9][^/-]*)\.gemspec$/.exec(path);
  if (gem?.[1] && gem[2]) {
    const name = gem[1];
    const version = gem[2];
    return { ecosystem: 'gem', bytes: 0, parse: () => [{ name, version }] };
  }
  return undefined;
}

const OS_RELEASE = ['/etc/os-release', '/usr/lib/os-release'];
const OS_RELEASE_BYTES = 1024 * 1024;

interface Release {
  readonly info?: OsInfo;
  /** Why the release could not be read; absent with `info` or when there is no os-release at all. */
  readonly problem?: string;
  readonly path?: string;
  /**
   * With a problem at /etc/os-release that a reader may step past (a directory, a device, an empty
   * file): what /usr/lib/os-release gives such a reader. Compared across views like `info`.
   */
  readonly fallback?: OsInfo;
}

/**
 * The release a process in the container reads: /etc/os-release, or /usr/lib/os-release when that is
 * absent (os-release(5)), each followed through symlinks inside the image, read whole. Content comes
 * from the copy captured while streaming, or from reading its layer again when a symlink leads
 * elsewhere. Readers differ when /etc/os-release is there but gives nothing (not a regular file, or
 * empty): os-release(5) stops, and a reader that reads the next name on failure (Go's os.ReadFile in
 * the runtime oracle) gets /usr/lib/os-release. Both are kept.
 */
async function readOsRelease(fs: FinalFilesystem, captured: ReadonlyMap<EntryInfo, Buffer>, image: ImageView): Promise<Release> {
  let stepped: { path: string; problem: string } | undefined;
  for (const path of OS_RELEASE) {
    const entry = fs.lookup(path);
    if (!entry) continue;
    let read: Release;
    if (entry.type !== 'file') read = { path, problem: `${path} is a ${entry.type}, not a file` };
    else if (entry.size === 0) read = { path, problem: `${path} is empty` };
    else if (entry.size > OS_RELEASE_BYTES) read = { path, problem: `${path} is ${entry.size} bytes, more than the ${OS_RELEASE_BYTES} the gate reads` };
    else {
      const content = captured.get(entry) ?? (await image.readFile(entry, OS_RELEASE_BYTES));
      const info = content ? parseOsRelease(content.toString('utf8')) : undefined;
      read = info ? { path, info } : { path, problem: `${path} has no valid ID (os-release(5) requires lowercase [a-z0-9._-])` };
    }
    if (stepped) return { ...stepped, ...(read.info ? { fallback: read.info } : {}) };
    if (read.problem === undefined || (entry.type === 'file' && entry.size > 0)) return read;
    stepped = { path, problem: read.problem };
  }
  return stepped ?? {};
}

/**
 * End-of-life and distribution advisories rest on the release: one that cannot be read, or that the
 * snapshotters disagree on, is said and blocks when the image holds OS packages; a release-less image
 * (scratch, a static binary) is told it had no distribution checks.
 */
function reportRelease(releases: ReadonlyArray<{ view: string; release: Release }>, packages: readonly InstalledPackage[], sink: FindingSink): void {
  const osPackages = packages.some((p) => p.ecosystem === 'deb' || p.ecosystem === 'apk' || p.ecosystem === 'rpm');
  const problems = releases.filter((r) => r.release.problem);
  const named = (r: Release): string => {
    const info = r.info ?? r.fallback;
    return info ? `${info.id} ${info.versionId ?? ''}`.trim() : 'none';
  };
  const ids = new Set(releases.map((r) => named(r.release)));
  // Views that a reader could see as different releases block, whatever else is wrong with them.
  if (ids.size > 1) {
    sink.report({ check: 'eol-distro', rule: 'os-release-ambiguous', severity: 'high', blocking: true, message: `the release differs between snapshotters (${releases.map((r) => `${r.view}: ${named(r.release)}`).join(', ')}); refusing an image the runtime may read differently` });
  }
  if (problems.length > 0) {
    sink.report({ check: 'eol-distro', rule: 'os-release-unreadable', severity: 'high', blocking: osPackages, message: `${problems[0]?.release.problem}; end-of-life and distribution advisory checks could not run` });
  } else if (ids.size === 1 && !releases[0]?.release.info) {
    sink.report({
      check: 'eol-distro',
      rule: 'os-release-missing',
      severity: osPackages ? 'high' : 'info',
      blocking: osPackages,
      message: osPackages
        ? 'the image has OS packages but no /etc/os-release or /usr/lib/os-release: end-of-life and distribution advisory checks could not run'
        : 'no /etc/os-release or /usr/lib/os-release: no distribution checks ran (no OS packages found either)',
    });
  }
}
/** Directories of per-package database files (distroless). */
const OS_DATABASE_DIRS = ['/var/lib/dpkg/status.d'];

const maxInflateOf = (context: { readonly maxArchiveInflateBytes?: number }): number => context.maxArchiveInflateBytes ?? DEFAULT_ARCHIVE_INFLATE_BYTES;

/** A link at such a path leads to where npm's and RubyGems' sources are recognised by their directory. */
const LINKED_TREE = /\/(?:node_modules|specifications)(?:\/|$)/;

/**
 * The package sources a reader in the container reaches by a name no layer wrote them under, in any view:
 * an OS database through a link (`/var/lib/dpkg -> /opt/x`, a hard link as `status`, a linked
 * `status.d`), a manifest that is itself a link, and npm and RubyGems trees behind a link
 * (`/app/node_modules -> /opt/nm`). Sources are recognised by their names as the layers stream, so these
 * were not read then; each is read again from its layer (a layer once for all of them). Without this an
 * image could hide its packages, and their advisories, behind a link.
 */
async function sourcesReachedElsewhere(image: ImageView, maxInflate: number): Promise<InstalledPackage[]> {
  const found = new Map<EntryInfo, string>();
  const add = (entry: EntryInfo | undefined, path: string): void => {
    if (entry?.type === 'file' && !found.has(entry)) found.set(entry, path);
  };
  for (const { fs } of image.views) {
    // Already read under its own name: a source whose placed path is a source of the same kind.
    const known = (entry: EntryInfo, as: string): boolean => sourceOf(fs.resolvedPath(entry.path, entry.layerIndex), maxInflate)?.ecosystem === sourceOf(as, maxInflate)?.ecosystem;
    for (const path of OS_DATABASES) {
      const entry = fs.lookup(path);
      if (entry && fs.resolvedPath(entry.path, entry.layerIndex) !== path) add(entry, path);
    }
    const linkedDirs: Array<{ at: string; real: string }> = [];
    for (const dir of OS_DATABASE_DIRS) {
      const real = fs.resolveDir(dir);
      if (real !== dir) linkedDirs.push({ at: dir, real });
    }
    for (const { path: at, entry } of fs.entries()) {
      if (entry.type !== 'symlink') continue;
      if (sourceOf(at, maxInflate)) {
        const target = fs.lookup(at);
        if (target && !known(target, at)) add(target, at);
      }
      if (!LINKED_TREE.test(`${at}/`)) continue;
      const real = fs.resolveDir(at);
      if (real !== at) linkedDirs.push({ at, real });
    }
    if (linkedDirs.length === 0) continue;
    const files = [...fs.files()].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
    for (const { at, real } of linkedDirs) {
      const prefix = `${real === '/' ? '' : real}/`;
      let lo = 0;
      let hi = files.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((files[mid] as FinalFile).path < prefix) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < files.length && (files[i] as FinalFile).path.startsWith(prefix); i++) {
        const file = files[i] as FinalFile;
        const alias = `${at}/${file.path.slice(prefix.length)}`;
        const source = sourceOf(alias, maxInflate);
        if (source && (OS_DATABASE_DIRS.includes(at) ? !alias.endsWith('.md5sums') && !alias.slice(at.length + 1).includes('/') : !known(file.content, alias))) add(file.content, alias);
      }
    }
  }
  // What each source reads of its file (rpm databases are not named by sourceOf; a gem by its name alone).
  const capOf = (path: string): number => sourceOf(path, maxInflate)?.bytes ?? DB_BYTES;
  const what = (entry: EntryInfo, path: string): string => `${path} (through a link to ${entry.path}, layer ${entry.layerIndex + 1})`;
  for (const [entry, path] of found) {
    if (capOf(path) > 0 && entry.size > capOf(path)) throw new Error(`${what(entry, path)} is larger than ${capOf(path)} bytes; its packages cannot be listed`);
  }
  const contents = await image.readFiles([...found].filter(([, path]) => capOf(path) > 0).map(([entry]) => entry), JAR_BYTES);
  const packages: InstalledPackage[] = [];
  for (const [entry, path] of found) {
    const content = contents.get(entry) ?? Buffer.alloc(0);
    let parsed: readonly ParsedPackage[];
    let ecosystem: Ecosystem;
    if (path.endsWith('.sqlite')) {
      ecosystem = 'rpm';
      parsed = await parseRpmSqlite(content);
    } else {
      const source = sourceOf(path, maxInflate);
      if (!source) continue;
      ecosystem = source.ecosystem;
      parsed = source.parse(entry, content, (message) => {
        throw new Error(`${what(entry, path)}: ${message}`);
      });
    }
    for (const p of parsed) packages.push({ ecosystem, ...p, path, layerIndex: entry.layerIndex });
  }
  return packages;
}

/** The package database each distribution's package manager keeps, by os-release ID. */
const DISTRIBUTION_DATABASE: Readonly<Record<string, { ecosystem: Ecosystem; where: string }>> = {
  debian: { ecosystem: 'deb', where: '/var/lib/dpkg/status or status.d/' },
  ubuntu: { ecosystem: 'deb', where: '/var/lib/dpkg/status' },
  alpine: { ecosystem: 'apk', where: '/lib/apk/db/installed' },
  ...Object.fromEntries(['fedora', 'rhel', 'centos', 'rocky', 'almalinux', 'ol', 'amzn'].map((id) => [id, { ecosystem: 'rpm' as const, where: 'rpmdb.sqlite under /var/lib/rpm or /usr/lib/sysimage/rpm' }])),
};

/**
 * A release whose package manager's database is absent or empty: the distribution's packages are
 * still on disk (an image that deleted /var/lib/dpkg to save space), but none can be checked for
 * advisories or updates. Said, without blocking (policy can make it block).
 */
function reportMissingDatabase(os: OsInfo | undefined, packages: readonly InstalledPackage[], sink: FindingSink): void {
  const db = os ? DISTRIBUTION_DATABASE[os.id] : undefined;
  if (!os || !db || packages.some((p) => p.ecosystem === db.ecosystem)) return;
  sink.report({
    check: 'inventory',
    rule: 'os-packages-missing',
    severity: 'medium',
    blocking: false,
    message: `the release is ${os.prettyName ?? os.id} but no ${db.ecosystem} package is listed where its package manager keeps them (${db.where}): the image's OS packages could not be checked for advisories or updates`,
  });
}

/** An rpm database a layer wrote: its packages, or why they were not read. */
interface RpmFacts {
  readonly path: string;
  readonly packages?: ParsedPackage[];
  /** A database imggate does not read (too large, not SQLite): an inventory-incomplete finding if it is final. */
  readonly unread?: string;
  /** A SQLite database that did not parse: the analyzer fails if it is final. */
  readonly failed?: string;
}

/** What a layer leaves: its package databases and manifests read, its os-release copies, its rpm databases. */
interface Facts {
  readonly copies: Array<{ path: string; ecosystem: Ecosystem; packages: ParsedPackage[] }>;
  readonly osCopies: PerEntry<string>;
  readonly rpm: RpmFacts[];
}

const RPMDB_SQLITE = ['/var/lib/rpm/rpmdb.sqlite', '/usr/lib/sysimage/rpm/rpmdb.sqlite'];
const RPMDB_LEGACY = ['/var/lib/rpm/Packages', '/var/lib/rpm/Packages.db', '/usr/lib/sysimage/rpm/Packages.db'];
/** The package databases of the distributions, where their package managers read them. */
const OS_DATABASES = ['/var/lib/dpkg/status', '/lib/apk/db/installed', ...RPMDB_SQLITE];

/**
 * The inventory of what is installed (OS release, dpkg, apk, npm, Python and Ruby packages) in the
 * final filesystem, each package with the layer that installed its version. What advisories, feeds and
 * the end-of-life table say of it is the detect stage's (src/detect).
 */
export const packagesAnalyzer: Analyzer = {
  id: 'packages',
  version: 6,
  description: 'installed packages and the release (advisories and end of life are the detect stage’s)',
  layer(context: AnalyzerContext): LayerRun {
    const copies: Facts['copies'] = [];
    const osCopies: PerEntry<string> = [];
    const goScanners = new Map<EntryInfo, GoBuildInfoScanner>();
    const rpmdbs: Array<{ path: string; bytes: Buffer | undefined }> = [];
    const maxInflate = maxInflateOf(context);
    return {
      wants(entry) {
        if (entry.type !== 'file') return undefined;
        if (OS_RELEASE.includes(entry.path)) return { contentBytes: OS_RELEASE_BYTES };
        if (RPMDB_SQLITE.includes(entry.path) || RPMDB_LEGACY.includes(entry.path)) return { contentBytes: DB_BYTES };
        const source = sourceOf(entry.path, maxInflate);
        if (source) return { contentBytes: source.bytes };
        // Executables may be Go binaries; their build information is found as they stream.
        if ((entry.mode & 0o111) !== 0 && entry.size >= 4096) {
          goScanners.set(entry, new GoBuildInfoScanner());
          return { contentBytes: 0, stream: true };
        }
        return undefined;
      },
      analyzeChunk(entry, chunk) {
        goScanners.get(entry)?.push(chunk);
      },
      analyzeEntry(entry, content, truncated, sink) {
        const go = goScanners.get(entry);
        if (go) {
          goScanners.delete(entry);
          const info = go.result();
          if (info) copies.push({ path: entry.path, ecosystem: 'golang', packages: [{ name: 'stdlib', version: info.goVersion.replace(/^go/, '').split(' ')[0] ?? info.goVersion }, ...info.modules] });
          return;
        }
        if (RPMDB_SQLITE.includes(entry.path) || RPMDB_LEGACY.includes(entry.path)) {
          rpmdbs.push({ path: entry.path, bytes: truncated ? undefined : content });
          return;
        }
        if (OS_RELEASE.includes(entry.path)) {
          if (content) osCopies.push([entry.ordinal, toFact(content)]);
          return;
        }
        const source = sourceOf(entry.path, maxInflate);
        if (!source) return;
        if (truncated && source.ecosystem === 'maven') {
          sink.report({
            check: 'inventory',
            rule: 'inventory-incomplete',
            severity: 'medium',
            blocking: false,
            message: `${entry.path} is larger than ${source.bytes} bytes; the packages inside it were not listed`,
            path: entry.path,
            layerIndex: entry.layerIndex,
          });
          return;
        }
        // A package database cut short would hide packages: fail closed.
        if (truncated) throw new Error(`${entry.path} is larger than ${source.bytes} bytes; its packages cannot be listed`);
        const problem = (message: string): void =>
          sink.report({
            check: 'inventory',
            rule: 'inventory-incomplete',
            severity: 'medium',
            blocking: false,
            message: `${entry.path}: ${message}; the packages inside it may not all be listed`,
            path: entry.path,
            layerIndex: entry.layerIndex,
          });
        copies.push({ path: entry.path, ecosystem: source.ecosystem, packages: source.parse(entry, content, problem) });
      },
      // rpm databases are SQLite files, read here (not kept: they can be tens of megabytes).
      async facts(): Promise<Facts> {
        const rpm = await Promise.all(
          rpmdbs.map(async ({ path, bytes }): Promise<RpmFacts> => {
            if (!bytes) return { path, unread: `larger than ${DB_BYTES} bytes` };
            if (RPMDB_LEGACY.includes(path)) return { path, unread: 'a Berkeley DB or NDB rpm database, which imggate does not read yet' };
            try {
              return { path, packages: await parseRpmSqlite(bytes) };
            } catch (err) {
              return { path, failed: (err as Error).message };
            }
          }),
        );
        return { copies, osCopies, rpm };
      },
    };
  },
  async conclude(context, { image, facts }, sink: FindingSink) {
    // Every copy of a package database or manifest, in layer order.
    const copies = new Map<string, Array<{ layerIndex: number; ecosystem: Ecosystem; packages: readonly ParsedPackage[] }>>();
    const add = (path: string, copy: { layerIndex: number; ecosystem: Ecosystem; packages: readonly ParsedPackage[] }): void => {
      copies.set(path, [...(copies.get(path) ?? []), copy]);
    };
    const layers = facts as ReadonlyArray<Facts | null>;
    const packages: InstalledPackage[] = [];
    layers.forEach((f, layerIndex) => f?.copies.forEach((c) => add(c.path, { layerIndex, ecosystem: c.ecosystem, packages: c.packages })));
    layers.forEach((f, layerIndex) => {
      for (const db of f?.rpm ?? []) {
        if (!image.fs.isInFinal(db.path, layerIndex)) continue;
        if (db.failed !== undefined) throw new Error(`${db.path}: ${db.failed}`);
        if (!db.packages) {
          sink.report({ check: 'inventory', rule: 'inventory-incomplete', severity: 'medium', blocking: false, message: `${db.path} is ${db.unread}; its packages were not listed`, path: db.path, layerIndex });
          continue;
        }
        const older = layers.slice(0, layerIndex).flatMap((e, i) => (e?.rpm ?? []).filter((d) => d.path === db.path && d.packages).map((d) => ({ layerIndex: i, ecosystem: 'rpm' as const, packages: d.packages ?? [] })));
        copies.set(db.path, [...older, { layerIndex, ecosystem: 'rpm', packages: db.packages }]);
      }
    });
    packages.push(...(await sourcesReachedElsewhere(image, maxInflateOf(context))));
    const osCopies = perEntry<Facts, string, Buffer>(image, facts, (f) => f.osCopies, fromFact);
    const releases = await Promise.all(image.views.map(async (view) => ({ view: view.name, release: await readOsRelease(view.fs, osCopies, image) })));
    const os = releases[0]?.release.info;
    for (const [path, list] of copies) {
      const final = list.find((c) => image.fs.isInFinal(path, c.layerIndex));
      if (!final) continue;
      for (const p of final.packages) {
        const first = list.find((c) => c.packages.some((q) => q.name === p.name && q.version === p.version));
        packages.push({ ecosystem: final.ecosystem, ...p, path: image.fs.resolvedPath(path, final.layerIndex), layerIndex: first?.layerIndex ?? final.layerIndex });
      }
    }
    packages.sort((a, b) => a.ecosystem.localeCompare(b.ecosystem) || a.name.localeCompare(b.name) || a.version.localeCompare(b.version) || a.path.localeCompare(b.path));
    sink.inventory?.({ ...(os ? { os } : {}), packages });
    reportRelease(releases, packages, sink);
    reportMissingDatabase(os, packages, sink);
  },
};
