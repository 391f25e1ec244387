import { posix } from 'node:path';
import { DEFAULT_ARCHIVE_INFLATE_BYTES } from '../../../packages/zip.js';
import type { Analyzer, AnalyzerContext, EntryInfo, FindingSink, LayerRun, RawFinding } from '../../analyzer.js';
import { perEntry } from '../../facts.js';
import { ContentHasher, isPackageFileList, PACKAGE_LIST_BYTES, packagedFilesOf, type ContentSums, type PackageLists } from '../../package-files.js';
import { archiveKind, GIT_OBJECT, GIT_PACK, inflateMembers } from './archives.js';
import { scanConfig } from './config.js';
import { HitList, reportFileHits, type HitFacts } from './file-hits.js';
import { fingerprint, SecretMatcher, type SecretMatch } from './matcher.js';
import { Decoder, scanBytes, sniffEncoding, StreamScanner } from './text.js';

/** Names of files held whole (up to ARCHIVE_BYTES) to inflate, even when larger than the per-file cap. */
const ARCHIVE_NAME = /\.(?:zip|jar|war|ear|aar|whl|egg|nupkg|gz|tgz)$/i;
/** Held whole to inflate; a git pack only up to ARCHIVE_BYTES (a larger one is read as text, as before packs were inflated). */
const heldWhole = (entry: EntryInfo): boolean => ARCHIVE_NAME.test(entry.path) || GIT_OBJECT.test(entry.path) || (GIT_PACK.test(entry.path) && entry.size <= ARCHIVE_BYTES);
/** Bytes of an archive held to inflate it (a zip's directory is at its end); past it, the file fails closed. */
const ARCHIVE_BYTES = 128 * 1024 * 1024;

/** A file larger than the per-file cap, as it streams. */
interface Streaming {
  readonly hasher: ContentHasher;
  /** Read as text; undefined for an archive that is inflated once whole instead. */
  readonly text: { readonly decoder: Decoder; readonly scanner: StreamScanner } | undefined;
  readonly archive: boolean;
  readonly list: HitList;
}

/**
 * Baked secrets wherever they hide: in file contents of any size (streamed whole past the per-file
 * cap; latin1, which keeps NULs and binary bytes in place, or UTF-16 by its mark or NUL pattern), in
 * gzip files and zip/jar members (inflated under `limits.maxArchiveInflate`), in paths, symlink
 * targets and extended attributes, in file names that are credentials by themselves, in the config's
 * Env and Labels, and in build history. Copies a later layer deleted are scanned too: they still
 * ship. A secret in a file whose exact bytes the distribution's package database vouches for is
 * reported without blocking (`reportFileHits`). Findings carry rule, place, line and fingerprint,
 * never the value.
 */
export const secretsAnalyzer: Analyzer = {
  id: 'secrets',
  version: 3,
  description: 'credentials baked into files, archives, names, links, xattrs, Env, Labels and history',
  layer(context: AnalyzerContext): LayerRun {
    const { signal } = context;
    const matcher = SecretMatcher.of(context.rules.secretRules);
    const byName = new Map(context.rules.fileRules.flatMap((r) => r.names.map((n) => [n, r] as const)));
    const skipped = (path: string): boolean => context.rules.skipPaths.some((s) => s.regex.test(path));
    const maxInflate = context.maxArchiveInflateBytes ?? DEFAULT_ARCHIVE_INFLATE_BYTES;
    const lists: PackageLists = [];
    const streaming = new Map<EntryInfo, Streaming>();
    const held: HeldFacts[] = [];
    const report = once();
    // A name can hold a secret itself (a token as a file name): it is redacted wherever it is shown.
    // An entry's path is scanned, and shown, several times over: the last text's scan is kept.
    let lastText: string | undefined;
    let lastMatches: readonly SecretMatch[] = [];
    let lastSafe = '';
    const scanText = (text: string): readonly SecretMatch[] => {
      if (text !== lastText) {
        lastMatches = matcher.scan(text);
        lastSafe = lastMatches.length ? matcher.redact(text, lastMatches) : text;
        lastText = text;
      }
      return lastMatches;
    };
    const safe = (text: string): string => {
      scanText(text);
      return lastSafe;
    };
    const placeOf = (entry: EntryInfo): { path: string; shownPath?: string; layerIndex: number } => {
      const shown = safe(entry.path);
      return { path: entry.path, ...(shown !== entry.path ? { shownPath: shown } : {}), layerIndex: entry.layerIndex };
    };
    const pathsSeen = new Set<string>();
    /** Secrets in what the header says (path, link target, xattrs): no package database vouches for these. */
    const scanHeader = (sink: FindingSink, entry: EntryInfo): void => {
      const path = safe(entry.path);
      const places: Array<[text: string, where: string, isPath: boolean]> = [[entry.path, `the path ${path}`, true]];
      if (entry.type === 'symlink') places.push([entry.linkname, `the target of symlink ${path}`, false]);
      for (const [key, value] of entry.xattrs) {
        places.push([`${key}=${value.toString(sniffEncoding(value) === 'latin1' ? 'latin1' : 'utf16le')}`, `extended attribute ${safe(key)} of ${path}`, false]);
      }
      for (const [text, where, isPath] of places) {
        for (const m of scanText(text)) {
          // Every entry under a directory named with a token repeats it: reported once a layer.
          if (isPath) {
            const key = `${m.fingerprint}|${entry.layerIndex}`;
            if (pathsSeen.has(key)) continue;
            pathsSeen.add(key);
          }
          report(sink, { check: 'secret', rule: m.rule.id, severity: m.rule.severity, blocking: true, message: `${m.rule.title} in ${where}`, ...placeOf(entry), fingerprint: m.fingerprint });
        }
      }
    };
    const hit = (list: HitList, m: SecretMatch & { readonly line?: number }, where: string): void => {
      list.add({
        ruleId: m.rule.id,
        title: m.rule.title,
        severity: m.rule.severity,
        fingerprint: m.fingerprint,
        message: `${m.rule.title} in ${where}${m.line !== undefined ? ` line ${m.line}` : ''}`,
        ...(m.line !== undefined ? { line: m.line } : {}),
      });
    };
    /** Members of a gzip file or zip, and their names, under one inflate budget for the file. */
    const scanArchive = (entry: EntryInfo, list: HitList, bytes: Buffer): void => {
      const shown = safe(entry.path);
      const budget = { remaining: maxInflate, limit: maxInflate, what: entry.path };
      let read = 0;
      for (const member of inflateMembers(bytes, budget, signal, '', undefined, archiveKind(bytes, entry.path))) {
        read++;
        for (const m of matcher.scan(member.name)) hit(list, m, `the name of an archive entry in ${shown}`);
        const where = member.name ? `${shown} (archive entry ${JSON.stringify(safe(member.name))})` : `${shown} (decompressed)`;
        if (member.why !== undefined) list.unscanned.push(`archive entry ${JSON.stringify(safe(member.name))}: ${member.why}`);
        else scanBytes(matcher, member.bytes, (m) => hit(list, m, where), signal);
      }
      // Zip magic without a directory to read (or an empty one): the bytes are still read as text.
      if (read === 0) scanBytes(matcher, bytes, (m) => hit(list, m, shown), signal);
    };
    return {
      wants(entry: EntryInfo) {
        // Paths, link targets and xattrs are in the header: every entry is looked at.
        if (entry.type !== 'file') return { contentBytes: 0 };
        if (isPackageFileList(entry.path)) return { contentBytes: Math.max(PACKAGE_LIST_BYTES, Math.min(entry.size, context.maxFileBytes)) };
        if (entry.size === 0 || (skipped(entry.path) && !byName.has(posix.basename(entry.path)))) return { contentBytes: 0 };
        if (entry.size <= context.maxFileBytes) return { contentBytes: entry.size };
        // Larger files stream through the matcher whole; archives by name are also held to inflate.
        return { contentBytes: heldWhole(entry) ? Math.min(entry.size, ARCHIVE_BYTES) : 0, stream: true };
      },
      analyzeChunk(entry, chunk) {
        let s = streaming.get(entry);
        if (!s) {
          const list = new HitList();
          // A git pack too large to hold is read as text: a repository's size alone does not fail the image.
          const archive = heldWhole(entry) && archiveKind(chunk, entry.path) !== undefined;
          // An archive too large to hold is still read as text: stored members are found that way.
          const asText = !archive || entry.size > ARCHIVE_BYTES;
          const shown = safe(entry.path);
          const text = asText ? { decoder: new Decoder(sniffEncoding(chunk)), scanner: new StreamScanner(matcher, (m) => hit(list, m, shown)) } : undefined;
          s = { hasher: new ContentHasher(), text, archive, list };
          streaming.set(entry, s);
        }
        s.hasher.update(chunk);
        s.text?.scanner.write(s.text.decoder.write(chunk));
      },
      analyzeEntry(entry, content, truncated, sink) {
        scanHeader(sink, entry);
        const named = entry.type === 'file' || entry.type === 'hardlink' ? byName.get(posix.basename(entry.path)) : undefined;
        const shown = safe(entry.path);
        if (entry.type === 'file' && GIT_PACK.test(entry.path) && !heldWhole(entry)) {
          report(sink, { check: 'secret', rule: 'git-history-unread', severity: 'medium', blocking: false, message: `the git pack ${shown} is ${entry.size} bytes, more than the ${ARCHIVE_BYTES} inflated whole: its history was read as raw bytes only, where a secret a later commit deleted is not found`, ...placeOf(entry) });
        }
        if (entry.type !== 'file') {
          if (named) report(sink, { check: 'secret', rule: named.id, severity: named.severity, blocking: true, message: `${named.title}: ${shown}`, ...placeOf(entry), fingerprint: fingerprint(named.id, entry.path) });
          return;
        }
        if (isPackageFileList(entry.path) && content && !truncated) lists.push([entry.ordinal, content.toString('utf8')]);
        const streamed = streaming.get(entry);
        streaming.delete(entry);
        const list = streamed?.list ?? new HitList();
        if (named) list.add({ ruleId: named.id, title: named.title, severity: named.severity, fingerprint: fingerprint(named.id, entry.path), message: `${named.title}: ${shown}` });
        let sums: ContentSums | undefined;
        if (streamed) {
          sums = streamed.hasher.digest();
          streamed.text?.scanner.end();
          if (streamed.archive && (!content || truncated)) list.unscanned.push(`an archive larger than the ${ARCHIVE_BYTES} bytes held to inflate`);
          else if (streamed.archive && content) scanArchive(entry, list, content);
        } else if (content && !skipped(entry.path)) {
          if (archiveKind(content, entry.path)) scanArchive(entry, list, content);
          else scanBytes(matcher, content, (m) => hit(list, m, shown), signal);
        }
        if (list.empty) return;
        if (!sums && content && !truncated) sums = ContentHasher.of(content);
        if (!sums && entry.size === 0) sums = ContentHasher.of(Buffer.alloc(0));
        const { layerIndex: _layer, ...place } = placeOf(entry);
        held.push({ ordinal: entry.ordinal, place, ...(sums ? { sums } : {}), list: list.toFacts() });
      },
      facts: (): Facts => ({ lists, held }),
    };
  },
  conclude(context, { image, facts }, sink) {
    const matcher = SecretMatcher.of(context.rules.secretRules);
    const report = once();
    scanConfig(matcher, image, (finding) => report(sink, finding));
    const packaged = packagedFilesOf(perEntry<Facts, string>(image, facts, (f) => f.lists), image);
    const held = [...perEntry<Facts, HeldFacts>(image, facts, (f) => f.held.map((h) => [h.ordinal, h]))].map(([entry, h]) => ({
      entry,
      place: { ...h.place, layerIndex: entry.layerIndex },
      sums: h.sums,
      list: HitList.fromFacts(h.list),
    }));
    reportFileHits(held, image, packaged, { report: (finding) => report(sink, finding) }, context.signal);
  },
};

/** A file a layer holds secrets in, as its facts keep it: where, the digests of its content, what was found. */
interface HeldFacts {
  readonly ordinal: number;
  readonly place: { readonly path: string; readonly shownPath?: string };
  readonly sums?: ContentSums;
  readonly list: HitFacts;
}

/** What a layer leaves: its package databases, and the files it holds secrets in. */
interface Facts {
  readonly lists: PackageLists;
  readonly held: HeldFacts[];
}

/** Reports each finding once: the same secret at the same place is one finding. */
function once(): (sink: FindingSink, finding: RawFinding) => void {
  const reported = new Set<string>();
  return (sink, finding) => {
    const key = `${finding.check}|${finding.rule}|${finding.fingerprint}|${finding.path}|${finding.layerIndex}|${finding.message}`;
    if (reported.has(key)) return;
    reported.add(key);
    sink.report(finding);
  };
}
