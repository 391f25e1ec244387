import { directory, readMember, type InflateBudget } from './zip.js';
import type { ParsedPackage } from './parsers.js';

function pomProperties(text: string): ParsedPackage | undefined {
  const get = (key: string): string | undefined => new RegExp(`^${key}\\s*[=:]\\s*(.+?)\\s*$`, 'm').exec(text)?.[1];
  const group = get('groupId');
  const artifact = get('artifactId');
  const version = get('version');
  return group && artifact && version ? { name: `${group}:${artifact}`, version } : undefined;
}

/**
 * Maven coordinates in a Java archive: every `META-INF/maven/<group>/<artifact>/pom.properties`, and
 * those of the archives nested in it (`BOOT-INF/lib/*.jar`, `WEB-INF/lib/*.jar`), one level deep.
 * Each result names where it was found (`outer.jar!/BOOT-INF/lib/inner.jar`). `problems` says what
 * could not be read (a corrupt or ZIP64 archive, a member that does not inflate): packages there are
 * unknown, and the caller reports it rather than listing nothing.
 */
export function jarPackages(zip: Buffer, budget?: InflateBudget, depth = 1): { packages: Array<ParsedPackage & { readonly inner?: string }>; problems: string[] } {
  const packages: Array<ParsedPackage & { inner?: string }> = [];
  const problems: string[] = [];
  const { members, problem } = directory(zip);
  if (problem) problems.push(problem);
  for (const m of members) {
    const pom = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/.test(m.name);
    const nested = depth > 0 && /\.(jar|war)$/.test(m.name);
    if (!pom && !nested) continue;
    const read = readMember(zip, m, budget);
    if (!read.data) {
      problems.push(`${m.name} cannot be read: ${read.why}`);
      continue;
    }
    if (pom) {
      const pkg = pomProperties(read.data.toString('utf8'));
      if (pkg) packages.push(pkg);
      continue;
    }
    const inner = jarPackages(read.data, budget, depth - 1);
    for (const pkg of inner.packages) packages.push({ ...pkg, inner: pkg.inner ? `${m.name}!/${pkg.inner}` : m.name });
    for (const p of inner.problems) problems.push(`${m.name}: ${p}`);
  }
  return { packages, problems };
}
