import { posix } from 'node:path';
import type { Analyzer, AnalyzerContext, AnalyzerRun, EntryInfo, FindingSink, RawFinding } from '../../analyzer.js';
import { archiveKind, ArchiveLimitError, DEFAULT_INFLATE_LIMITS, gunzipCapped, unzipCapped } from './archives.js';
import { fingerprint, SecretMatcher } from './matcher.js';
import { Decoder, sniffEncoding, StreamScanner, type StreamMatch } from './text.js';

/** Names that hold zip or gzip content worth inflating even when larger than the per-file cap. */
const ARCHIVE_NAME = /\.(?:zip|jar|war|ear|whl|egg|nupkg|gz|tgz)$/i;

/** A file being streamed: its decoder and scanner, created from the first chunk. */
interface Streaming {
  readonly decoder: Decoder;
  readonly scanner: StreamScanner;
  /** Matches wait here for `analyzeEntry`, which has the sink; bounded, then only counted. */
  readonly held: StreamMatch[];
  more: number;
}

/** Matches of one streamed file kept for reporting; a file with more is reported as such. */
const MAX_HELD = 1000;

/**
 * Baked secrets: in file contents (whole files of any size, streamed; latin1, or UTF-16 by its mark
 * or its NUL pattern; gzip files and zip/jar entries inflated under caps), in file names, symlink
 * targets and extended attributes, in file names that are credentials by themselves, in the
 * config's Env and Labels, and in build history. Files a later layer deleted are scanned too: they
 * still ship. Findings carry rule, place, line and fingerprint, never the value.
 */
export const secretsAnalyzer: Analyzer = {
  id: 'secrets',
  version: 2,
  description: 'credentials baked into files, names, links, xattrs, archives, Env, Labels and history',
  create(context: AnalyzerContext): AnalyzerRun {
    const matcher = new SecretMatcher(context.rules.secretRules);
    const byName = new Map(context.rules.fileRules.flatMap((r) => r.names.map((n) => [n, r] as const)));
    const skipped = (path: string): boolean => context.rules.skipPaths.some((s) => s.regex.test(path));
    const limits = { ...DEFAULT_INFLATE_LIMITS, entryBytes: Math.max(DEFAULT_INFLATE_LIMITS.entryBytes, context.maxFileBytes) };
    const archiveCap = limits.totalBytes;
    const streaming = new Map<EntryInfo, Streaming>();
    const reported = new Set<string>();
    const report = (sink: FindingSink, finding: RawFinding): void => {
      const key = `${finding.rule}|${finding.fingerprint}|${finding.path}|${finding.layerIndex}|${finding.message}`;
      if (reported.has(key)) return;
      reported.add(key);
      sink.report(finding);
    };
    // A name can hold a secret itself (a token as a file name); it is redacted wherever it is shown.
    const safe = (text: string): string => matcher.redact(text);
    const found = (sink: FindingSink, entry: EntryInfo, m: { rule: StreamMatch['rule']; fingerprint: string; line?: number }, where: string): void => {
      report(sink, {
        check: 'secret',
        rule: m.rule.id,
        severity: m.rule.severity,
        blocking: true,
        message: `${m.rule.title} in ${where}`,
        path: safe(entry.path),
        layerIndex: entry.layerIndex,
        fingerprint: m.fingerprint,
        ...(m.line !== undefined ? { line: m.line } : {}),
      });
    };
    const incomplete = (sink: FindingSink, entry: EntryInfo, why: string): void => {
      // Fail closed: content that could not be read within the caps may hold anything.
      report(sink, {
        check: 'analyzer-error',
        rule: 'secrets',
        severity: 'high',
        blocking: true,
        message: `could not scan ${safe(entry.path)} for secrets: ${why}`,
        path: safe(entry.path),
        layerIndex: entry.layerIndex,
      });
    };
    /** Scans one whole byte string (a file or an archive member). */
    const scanBytes = (sink: FindingSink, entry: EntryInfo, bytes: Buffer, where: string): void => {
      const decoder = new Decoder(sniffEncoding(bytes));
      const scanner = new StreamScanner(matcher, (m) => found(sink, entry, m, `${safe(where)} line ${m.line}`));
      scanner.write(decoder.write(bytes));
      scanner.end();
    };
    const scanArchive = (sink: FindingSink, entry: EntryInfo, bytes: Buffer): void => {
      const kind = archiveKind(bytes);
      if (!kind) return;
      try {
        const members = kind === 'gzip' ? gunzipCapped(bytes, limits) : unzipCapped(bytes, limits);
        for (const member of members) {
          const where = member.name ? `${entry.path} (archive entry ${JSON.stringify(member.name)})` : `${entry.path} (decompressed)`;
          if (member.name) scanName(sink, entry, member.name, `the name of an archive entry in ${safe(entry.path)}`);
          scanBytes(sink, entry, member.bytes, where);
        }
      } catch (err) {
        if (err instanceof ArchiveLimitError) incomplete(sink, entry, err.message);
        else throw err;
      }
    };
    const scanName = (sink: FindingSink, entry: EntryInfo, text: string, where: string): void => {
      for (const m of matcher.scan(text)) found(sink, entry, m, where);
    };
    return {
      wants(entry: EntryInfo) {
        // Names, link targets and xattrs are in the header: every entry gets looked at.
        if (entry.type !== 'file') return { contentBytes: 0 };
        if (entry.size === 0 || skipped(entry.path)) return { contentBytes: 0 };
        if (entry.size <= context.maxFileBytes) return { contentBytes: entry.size };
        // Larger files stream through the matcher whole; archives are also kept (capped) to inflate.
        return { contentBytes: ARCHIVE_NAME.test(entry.path) ? Math.min(entry.size, archiveCap) : 0, stream: true };
      },
      analyzeChunk(entry, chunk) {
        let s = streaming.get(entry);
        if (!s) {
          const held: StreamMatch[] = [];
          const state: Streaming = {
            decoder: new Decoder(sniffEncoding(chunk)),
            scanner: new StreamScanner(matcher, (m) => {
              if (held.length < MAX_HELD) held.push(m);
              else state.more++;
            }),
            held,
            more: 0,
          };
          s = state;
          streaming.set(entry, s);
        }
        s.scanner.write(s.decoder.write(chunk));
      },
      analyzeEntry(entry, content, truncated, sink) {
        const named = byName.get(posix.basename(entry.path));
        if (named) {
          report(sink, {
            check: 'secret',
            rule: named.id,
            severity: named.severity,
            blocking: true,
            message: `${named.title}: ${safe(entry.path)}`,
            path: safe(entry.path),
            layerIndex: entry.layerIndex,
            fingerprint: fingerprint(named.id, entry.path),
          });
        }
        scanName(sink, entry, entry.path, `the file name ${safe(entry.path)}`);
        if (entry.type === 'symlink' && entry.linkname) scanName(sink, entry, entry.linkname, `the target of symlink ${safe(entry.path)}`);
        for (const [key, value] of entry.xattrs) {
          const text = `${key}=${value.toString(sniffEncoding(value) === 'latin1' ? 'latin1' : 'utf16le')}`;
          scanName(sink, entry, text, `extended attribute ${safe(key)} of ${safe(entry.path)}`);
        }
        if (entry.type !== 'file' || skipped(entry.path)) return;
        const streamed = streaming.get(entry);
        if (streamed) {
          streaming.delete(entry);
          streamed.scanner.end();
          for (const m of streamed.held) found(sink, entry, m, `${safe(entry.path)} line ${m.line}`);
          if (streamed.more > 0) incomplete(sink, entry, `${MAX_HELD + streamed.more} secrets found; only the first ${MAX_HELD} are reported`);
          if (content && ARCHIVE_NAME.test(entry.path)) {
            if (truncated) incomplete(sink, entry, `an archive larger than the ${archiveCap} bytes inflated`);
            else scanArchive(sink, entry, content);
          }
          return;
        }
        if (!content) return;
        scanBytes(sink, entry, content, entry.path);
        scanArchive(sink, entry, content);
      },
      finish(image, sink) {
        const config = image.config.config;
        const places: Array<{ where: string; text: string; layerIndex?: number }> = [];
        for (const env of config?.Env ?? []) places.push({ where: `ENV ${env.split('=')[0] ?? ''}`, text: env });
        for (const [key, value] of Object.entries(config?.Labels ?? {})) places.push({ where: `LABEL ${key}`, text: `${key}=${value}` });
        for (const field of ['Entrypoint', 'Cmd'] as const) {
          const argv = config?.[field];
          if (argv?.length) places.push({ where: field === 'Cmd' ? 'CMD' : 'ENTRYPOINT', text: argv.join(' ') });
        }
        let layer = 0;
        for (const [i, h] of (image.config.history ?? []).entries()) {
          const layerIndex = h.empty_layer ? undefined : layer++;
          if (h.created_by) places.push({ where: `build history step ${i + 1}`, text: h.created_by, ...(layerIndex !== undefined && layerIndex < image.layers.length ? { layerIndex } : {}) });
        }
        for (const place of places) {
          for (const m of matcher.scan(place.text)) {
            report(sink, {
              check: 'secret',
              rule: m.rule.id,
              severity: m.rule.severity,
              blocking: true,
              message: `${m.rule.title} in the image config's ${place.where}`,
              ...(place.layerIndex !== undefined ? { layerIndex: place.layerIndex } : {}),
              fingerprint: m.fingerprint,
            });
          }
        }
      },
    };
  },
};
