import { posix } from 'node:path';
import type { Analyzer, AnalyzerContext, AnalyzerRun, EntryInfo, FindingSink, RawFinding } from '../../analyzer.js';
import { fingerprint, lineOf, SecretMatcher } from './matcher.js';

/** Bytes sniffed for a NUL to call a file binary (what git and grep do). */
const SNIFF_BYTES = 8000;

export function isBinary(content: Buffer): boolean {
  return content.subarray(0, SNIFF_BYTES).includes(0);
}

/**
 * Baked secrets: in file contents (text files up to the size cap), in file names that are
 * credentials by themselves, in the config's Env and Labels, and in build history. Files a later
 * layer deleted are scanned too: they still ship. Findings carry rule, place, line and fingerprint,
 * never the value.
 */
export const secretsAnalyzer: Analyzer = {
  id: 'secrets',
  version: 1,
  description: 'credentials baked into files, names, Env, Labels and history',
  create(context: AnalyzerContext): AnalyzerRun {
    const matcher = new SecretMatcher(context.rules.secretRules);
    const byName = new Map(context.rules.fileRules.flatMap((r) => r.names.map((n) => [n, r] as const)));
    const skipped = (path: string): boolean => context.rules.skipPaths.some((s) => s.regex.test(path));
    const reported = new Set<string>();
    const report = (sink: FindingSink, finding: RawFinding): void => {
      const key = `${finding.rule}|${finding.fingerprint}|${finding.path}|${finding.layerIndex}|${finding.message}`;
      if (reported.has(key)) return;
      reported.add(key);
      sink.report(finding);
    };
    return {
      wants(entry: EntryInfo) {
        if (entry.type !== 'file') return undefined;
        if (byName.has(posix.basename(entry.path))) return { contentBytes: 0 };
        if (entry.size === 0 || entry.size > context.maxFileBytes || skipped(entry.path)) return undefined;
        return { contentBytes: entry.size };
      },
      analyzeEntry(entry, content, truncated, sink) {
        const named = byName.get(posix.basename(entry.path));
        if (named) {
          report(sink, {
            check: 'secret',
            rule: named.id,
            severity: named.severity,
            blocking: true,
            message: `${named.title}: ${entry.path}`,
            path: entry.path,
            layerIndex: entry.layerIndex,
            fingerprint: fingerprint(named.id, entry.path),
          });
        }
        if (!content || truncated || isBinary(content) || skipped(entry.path)) return;
        const text = content.toString('latin1');
        for (const m of matcher.scan(text)) {
          const line = lineOf(text, m.index);
          report(sink, {
            check: 'secret',
            rule: m.rule.id,
            severity: m.rule.severity,
            blocking: true,
            message: `${m.rule.title} in ${entry.path} line ${line}`,
            path: entry.path,
            layerIndex: entry.layerIndex,
            fingerprint: m.fingerprint,
            line,
          });
        }
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
