import type { Analyzer, AnalyzerRun, EntryInfo, FindingSink } from '../../analyzer.js';
import { decodeCapabilities } from './capabilities.js';
import { isPackageFileList, PackagedFiles } from './package-files.js';

const SETUID = 0o4000;
const SETGID = 0o2000;
const LIST_BYTES = 16 * 1024 * 1024;

const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/** The directories of `PATH` from the image config (the runtime's default when none is set). */
function pathDirs(env: readonly string[] | null | undefined): string[] {
  const value = env?.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return value.split(':').filter((d) => d.startsWith('/'));
}

/**
 * Privilege escalation a container inherits from its image: setuid and setgid files (told packaged
 * from dropped-in by the image's own package databases, dpkg and apk), file capabilities
 * (`security.capability` xattrs), and world-writable files or directories in `PATH`.
 */
export const privilegesAnalyzer: Analyzer = {
  id: 'privileges',
  version: 1,
  description: 'setuid/setgid files, file capabilities, world-writable PATH entries',
  create(): AnalyzerRun {
    const special: EntryInfo[] = [];
    const capabilities: EntryInfo[] = [];
    const packaged = new PackagedFiles();
    return {
      wants(entry) {
        if (entry.type === 'file' && isPackageFileList(entry.path)) return { contentBytes: LIST_BYTES };
        if (entry.type === 'file' && ((entry.mode & (SETUID | SETGID)) !== 0 || entry.xattrs.has('security.capability'))) return { contentBytes: 0 };
        return undefined;
      },
      analyzeEntry(entry, content) {
        if (isPackageFileList(entry.path) && content) packaged.add(entry, content);
        if ((entry.mode & (SETUID | SETGID)) !== 0) special.push(entry);
        if (entry.xattrs.has('security.capability')) capabilities.push(entry);
      },
      finish(image, sink: FindingSink) {
        const owned = packaged.paths(image.fs);
        for (const entry of special) {
          const real = image.fs.resolvedPath(entry.path, entry.layerIndex);
          const isPackaged = owned.has(real);
          // A copy a later layer deleted cannot be executed in the container: worth knowing, not blocking.
          const live = image.fs.isInFinal(entry.path, entry.layerIndex);
          for (const [bit, check] of [[SETUID, 'setuid'], [SETGID, 'setgid']] as const) {
            if ((entry.mode & bit) === 0) continue;
            sink.report({
              check,
              rule: `${check}-${isPackaged ? 'packaged' : 'unpackaged'}`,
              severity: !live ? 'info' : isPackaged ? 'low' : 'high',
              blocking: live && !isPackaged,
              message: `${isPackaged ? '' : 'unpackaged '}${check} file ${real} (mode ${octal(entry.mode)}, owner ${entry.uid}:${entry.gid})${isPackaged ? ', installed by a package' : ', not listed by any package database'}${live ? '' : '; a later layer removed it'}`,
              path: entry.path,
              layerIndex: entry.layerIndex,
            });
          }
        }
        for (const entry of capabilities) {
          const decoded = decodeCapabilities(entry.xattrs.get('security.capability') as Buffer);
          const names = decoded ? decoded.names.join(', ') || 'none' : 'an undecodable set';
          sink.report({
            check: 'capability',
            rule: 'file-capability',
            severity: 'medium',
            blocking: false,
            message: `file ${entry.path} carries capabilities ${names}${decoded?.effective ? ' (effective)' : ''}`,
            path: entry.path,
            layerIndex: entry.layerIndex,
          });
        }
        const dirs = new Set(pathDirs(image.config.config?.Env).map((d) => image.fs.resolve(d.replace(/\/+$/, '') || '/')));
        for (const entry of image.fs.entries()) {
          if ((entry.mode & 0o002) === 0 || (entry.type !== 'file' && entry.type !== 'directory')) continue;
          const real = image.fs.resolvedPath(entry.path, entry.layerIndex);
          const parent = real.slice(0, real.lastIndexOf('/')) || '/';
          const isPathDir = entry.type === 'directory' && dirs.has(real);
          if (!isPathDir && !(entry.type === 'file' && dirs.has(parent))) continue;
          sink.report({
            check: 'world-writable',
            rule: 'world-writable-path',
            severity: 'high',
            blocking: true,
            message: `${entry.type === 'directory' ? 'PATH directory' : 'file in PATH'} ${real} is world-writable (mode ${octal(entry.mode)}): any user can plant or replace commands`,
            path: entry.path,
            layerIndex: entry.layerIndex,
          });
        }
      },
    };
  },
};
