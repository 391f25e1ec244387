import type { Severity } from '../../../report/types.js';
import type { EntryInfo, FindingSink, ImageView, RawFinding } from '../../analyzer.js';
import type { FinalFile, FinalFilesystem } from '../../filesystem.js';
import type { ContentSums, PackagedFiles } from '../../package-files.js';

/** One secret found in a file's content (or its name being a credential), before it is judged. */
export interface Hit {
  readonly ruleId: string;
  readonly title: string;
  readonly severity: Severity;
  readonly fingerprint?: string;
  /** What was found where, no value in it: `GitHub token in /app/a.jar (archive entry "b") line 2`. */
  readonly message: string;
  readonly line?: number;
}

/** Hits of one file listed one by one; more are counted by rule, so memory stays bounded whatever a file holds. */
const MAX_HITS = 1000;

/** The hits of one file. */
export class HitList {
  readonly hits: Hit[] = [];
  /** Hits past the cap, counted by rule. */
  readonly more = new Map<string, { readonly title: string; readonly severity: Severity; count: number }>();
  /** Why parts of the content could not be read (an archive past its caps, an encrypted member). */
  readonly unscanned: string[] = [];

  add(hit: Hit): void {
    if (this.hits.length < MAX_HITS) {
      this.hits.push(hit);
      return;
    }
    const counted = this.more.get(hit.ruleId) ?? { title: hit.title, severity: hit.severity, count: 0 };
    counted.count++;
    this.more.set(hit.ruleId, counted);
  }

  get empty(): boolean {
    return this.hits.length === 0 && this.unscanned.length === 0;
  }

  /** The list as layer facts keep it (no value in it: hits carry messages and fingerprints). */
  toFacts(): HitFacts {
    return { hits: this.hits, more: [...this.more], unscanned: this.unscanned };
  }

  static fromFacts(facts: HitFacts): HitList {
    const list = new HitList();
    list.hits.push(...facts.hits);
    for (const [rule, more] of facts.more) list.more.set(rule, { ...more });
    list.unscanned.push(...facts.unscanned);
    return list;
  }
}

export interface HitFacts {
  readonly hits: readonly Hit[];
  readonly more: ReadonlyArray<[rule: string, { readonly title: string; readonly severity: Severity; readonly count: number }]>;
  readonly unscanned: readonly string[];
}

/** The hits in one file's content, kept until the final filesystem and package databases are known. */
export interface FileHits {
  readonly entry: EntryInfo;
  /** Where findings point: the entry's path, and how reports show it (a secret in the name redacted). */
  readonly place: { readonly path: string; readonly shownPath?: string; readonly layerIndex: number };
  readonly sums: ContentSums | undefined;
  readonly list: HitList;
}

/** The rule a secret gets when a package database vouches for the exact bytes it was found in. */
export const PACKAGED_RULE = 'secret-packaged';

/**
 * Judges the files secrets were found in, then reports every hit. A file whose exact content the
 * image's package database vouches for, under every name it has in every view (or, for content a
 * later layer removed, in the database the same layer wrote), was shipped by the distribution, not
 * baked in by whoever built the image: its hits are reported under `secret-packaged`, low and not
 * blocking. Anything else blocks under its own rule: content no package lists, or content that
 * differs from what the package installed.
 */
export function reportFileHits(files: readonly FileHits[], image: ImageView, packaged: PackagedFiles, sink: FindingSink, signal?: AbortSignal): void {
  if (files.length === 0) return;
  const wanted = new Set(files.map((f) => f.entry));
  const names = new Map<FinalFilesystem, Map<EntryInfo, FinalFile[]>>();
  for (const { fs } of image.views) {
    const byContent = new Map<EntryInfo, FinalFile[]>();
    let n = 0;
    for (const file of fs.files()) {
      if (++n % 4096 === 0) signal?.throwIfAborted();
      if (!wanted.has(file.content)) continue;
      byContent.set(file.content, [...(byContent.get(file.content) ?? []), file]);
    }
    names.set(fs, byContent);
  }
  for (const file of files) {
    signal?.throwIfAborted();
    const verdict = judge(file, image, names, packaged);
    const report = (hit: Hit): void => {
      const base = { check: 'secret', ...file.place, ...(hit.fingerprint ? { fingerprint: hit.fingerprint } : {}), ...(hit.line !== undefined ? { line: hit.line } : {}) };
      const finding: RawFinding =
        verdict.owner !== undefined
          ? { ...base, rule: PACKAGED_RULE, severity: 'low', blocking: false, message: `${hit.message} (rule ${hit.ruleId}), in a file packaged by ${verdict.owner} and unchanged` }
          : { ...base, rule: hit.ruleId, severity: hit.severity, blocking: true, message: `${hit.message}${verdict.changedFrom ? `; the file differs from what ${verdict.changedFrom} installed there` : ''}` };
      sink.report(finding);
    };
    for (const hit of file.list.hits) report(hit);
    const shown = file.place.shownPath ?? file.place.path;
    for (const [ruleId, more] of file.list.more) report({ ruleId, title: more.title, severity: more.severity, message: `${more.count} more matches of ${more.title} in ${shown}, not listed one by one` });
    for (const why of file.list.unscanned) {
      // Fail closed, unless the distribution vouches for the very bytes that could not be read.
      sink.report(
        verdict.owner !== undefined
          ? { check: 'secret', ...file.place, rule: PACKAGED_RULE, severity: 'low', blocking: false, message: `could not scan ${shown} for secrets whole: ${why}; in a file packaged by ${verdict.owner} and unchanged` }
          : { check: 'analyzer-error', ...file.place, rule: 'secrets', severity: 'high', blocking: true, message: `could not scan ${shown} for secrets: ${why}` },
      );
    }
  }
}

function judge(file: FileHits, image: ImageView, names: ReadonlyMap<FinalFilesystem, ReadonlyMap<EntryInfo, FinalFile[]>>, packaged: PackagedFiles): { owner?: string; changedFrom?: string } {
  let owner: string | undefined;
  for (const { fs } of image.views) {
    const live = names.get(fs)?.get(file.entry) ?? [];
    const owners = live.length > 0 ? live.map((f) => packaged.owner(fs, f, file.sums)) : [packaged.ownerInLayer(fs, file.entry, file.sums)];
    const missing = owners.findIndex((o) => o === undefined);
    if (missing >= 0) {
      const where = live[missing]?.path ?? fs.resolvedPath(file.entry.path, file.entry.layerIndex);
      return { changedFrom: packaged.listedBy(fs, where) };
    }
    owner ??= owners[0];
  }
  return owner === undefined ? {} : { owner };
}
