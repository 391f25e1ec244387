import { extract, members, type InflateBudget } from './zip.js';
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
 * Each result names where it was found (`outer.jar!/BOOT-INF/lib/inner.jar`).
 */
export function jarPackages(zip: Buffer, budget?: InflateBudget, depth = 1): Array<ParsedPackage & { readonly inner?: string }> {
  const out: Array<ParsedPackage & { inner?: string }> = [];
  for (const m of members(zip)) {
    if (/^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/.test(m.name)) {
      const data = extract(zip, m, budget);
      const pkg = data ? pomProperties(data.toString('utf8')) : undefined;
      if (pkg) out.push(pkg);
    } else if (depth > 0 && /\.(jar|war)$/.test(m.name)) {
      const inner = extract(zip, m, budget);
      if (inner) for (const pkg of jarPackages(inner, budget, depth - 1)) out.push({ ...pkg, inner: pkg.inner ? `${m.name}!/${pkg.inner}` : m.name });
    }
  }
  return out;
}
