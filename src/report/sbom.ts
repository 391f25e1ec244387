import * as CDX from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import type { InstalledPackage, OsInfo } from '../packages/types.js';
import type { Report } from './types.js';

/** The package URL (purl spec) of an installed package. */
export function purlOf(pkg: InstalledPackage, os: OsInfo | undefined): PackageURL {
  const distro = os?.versionId ? `${os.id}-${os.versionId}` : undefined;
  const qualifiers = (extra: Record<string, string | undefined>): Record<string, string> =>
    Object.fromEntries(Object.entries(extra).filter((e): e is [string, string] => e[1] !== undefined));
  switch (pkg.ecosystem) {
    case 'deb':
      return new PackageURL('deb', os?.id ?? 'debian', pkg.name, pkg.version, qualifiers({ arch: pkg.arch, distro }), undefined);
    case 'apk':
      return new PackageURL('apk', os?.id ?? 'alpine', pkg.name, pkg.version, qualifiers({ arch: pkg.arch, distro }), undefined);
    case 'rpm':
      return new PackageURL('rpm', os?.id ?? undefined, pkg.name, pkg.version, qualifiers({ arch: pkg.arch, distro }), undefined);
    case 'npm': {
      const scoped = /^(@[^/]+)\/(.+)$/.exec(pkg.name);
      return new PackageURL('npm', scoped?.[1] ?? undefined, scoped?.[2] ?? pkg.name, pkg.version, undefined, undefined);
    }
    case 'pypi':
      return new PackageURL('pypi', undefined, pkg.name, pkg.version, undefined, undefined);
    case 'gem':
      return new PackageURL('gem', undefined, pkg.name, pkg.version, undefined, undefined);
    case 'golang':
      return new PackageURL('golang', undefined, pkg.name, pkg.version, undefined, undefined);
    case 'maven': {
      const [group, artifact] = pkg.name.split(':');
      return new PackageURL('maven', group ?? undefined, artifact ?? pkg.name, pkg.version, undefined, undefined);
    }
  }
}

/**
 * The image's inventory as a CycloneDX 1.5 JSON SBOM (with the maintained CycloneDX library): the
 * image as the metadata component (its digest as version), the OS, and one library component per
 * installed package, each with its purl, the file it was read from and the layer that installed it.
 */
export function toCycloneDx(report: Report): string {
  const bom = new CDX.Models.Bom();
  const reports = report.platforms?.length ? report.platforms : [report];
  bom.metadata.tools.components.add(new CDX.Models.Component(CDX.Enums.ComponentType.Application, 'imggate'));
  bom.metadata.component = new CDX.Models.Component(CDX.Enums.ComponentType.Container, report.image.reference, {
    version: report.image.digest,
    bomRef: `image:${report.image.digest}`,
  });
  for (const r of reports) {
    const os = r.inventory?.os;
    if (os) {
      bom.components.add(
        new CDX.Models.Component(CDX.Enums.ComponentType.OperatingSystem, os.id, {
          version: os.versionId ?? '',
          bomRef: `os:${os.id}:${os.versionId ?? ''}:${r.image.platform ?? ''}`,
          description: os.prettyName ?? '',
        }),
      );
    }
    const layers = r.image.layers ?? [];
    for (const pkg of r.inventory?.packages ?? []) {
      const purl = purlOf(pkg, os);
      const component = new CDX.Models.Component(CDX.Enums.ComponentType.Library, pkg.name, {
        version: pkg.version,
        purl: purl.toString(),
        bomRef: `${purl.toString()}#${pkg.path}${r.image.platform ? `@${r.image.platform}` : ''}`,
      });
      component.properties.add(new CDX.Models.Property('imggate:path', pkg.path));
      const layer = layers[pkg.layerIndex]?.digest;
      if (layer) component.properties.add(new CDX.Models.Property('imggate:layer', layer));
      if (pkg.source) component.properties.add(new CDX.Models.Property('imggate:source-package', `${pkg.source}@${pkg.sourceVersion ?? pkg.version}`));
      if (r.image.platform) component.properties.add(new CDX.Models.Property('imggate:platform', r.image.platform));
      bom.components.add(component);
    }
  }
  const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot5));
  return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`;
}
