import type { Analyzer, AnalyzerRun, EntryInfo, FindingSink } from '../../analyzer.js';

const SETUID = 0o4000;
const SETGID = 0o2000;

function describeMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Regular files with the setuid or setgid bit, wherever they are, including in layers whose copy a
 * later layer deleted. Until package databases are read, every such file is reported at medium
 * severity without blocking: telling packaged from dropped-in helpers is what makes blocking fair.
 */
export const setuidAnalyzer: Analyzer = {
  id: 'setuid',
  version: 1,
  description: 'regular files with the setuid or setgid bit',
  create(): AnalyzerRun {
    return {
      wants: (entry: EntryInfo) => (entry.type === 'file' && (entry.mode & (SETUID | SETGID)) !== 0 ? { contentBytes: 0 } : undefined),
      analyzeEntry(entry: EntryInfo, _content, _truncated, sink: FindingSink): void {
        const owner = `${entry.uid}:${entry.gid}`;
        for (const [bit, check] of [[SETUID, 'setuid'], [SETGID, 'setgid']] as const) {
          if ((entry.mode & bit) === 0) continue;
          sink.report({
            check,
            rule: `${check}-file`,
            severity: 'medium',
            blocking: false,
            message: `${check} file ${entry.path} (mode ${describeMode(entry.mode)}, owner ${owner})`,
            path: entry.path,
            layerIndex: entry.layerIndex,
          });
        }
      },
      finish(): void {},
    };
  },
};
