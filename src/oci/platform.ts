import { ImggateError } from '../errors.js';
import type { Descriptor, PlatformSpec } from './schemas.js';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string | undefined;
}

const NODE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** Parses `os/arch[/variant]` as `--platform` takes it. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  const [os, architecture, variant] = parts;
  if (parts.length < 2 || parts.length > 3 || !os || !architecture || (parts.length === 3 && !variant)) {
    throw new ImggateError('PLATFORM_INVALID', `invalid platform "${text}": expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7`);
  }
  return normalizePlatform({ os, architecture, variant });
}

/** The platform a container on this host would run, as the OCI image spec names it. */
export function hostPlatform(): Platform {
  const architecture = NODE_ARCH[process.arch] ?? process.arch;
  // Containers are Linux images even on macOS and Windows hosts running a Linux VM.
  const variant = architecture === 'arm' ? `v${String((process.config.variables as Record<string, unknown>)['arm_version'] ?? '7')}` : undefined;
  return normalizePlatform({ os: 'linux', architecture, variant });
}

/** Applies the spec's implied variants: arm64 means v8, arm means v7 unless told. */
export function normalizePlatform(p: { os: string; architecture: string; variant?: string | undefined }): Platform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() || undefined;
  if (architecture === 'aarch64') architecture = 'arm64';
  if (architecture === 'x86_64' || architecture === 'x86-64') architecture = 'amd64';
  if (architecture === 'arm64' && variant === 'v8') variant = undefined;
  if (architecture === 'arm' && variant === undefined) variant = 'v7';
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  return { os, architecture, variant };
}

export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

export function platformOf(spec: PlatformSpec | undefined): Platform | undefined {
  return spec ? normalizePlatform(spec) : undefined;
}

function matches(want: Platform, have: Platform): boolean {
  return want.os === have.os && want.architecture === have.architecture && (want.variant ?? '') === (have.variant ?? '');
}

/**
 * Picks the manifest for `want` from an index. Entries without a platform (attestations, signatures)
 * are never images to run and are skipped; an exact match wins, two exact matches are refused.
 */
export function selectPlatform(manifests: readonly Descriptor[], want: Platform): Descriptor {
  const candidates = manifests.filter((d) => {
    const have = platformOf(d.platform);
    return have !== undefined && matches(want, have);
  });
  if (candidates.length === 0) {
    const offered = imagePlatforms(manifests).map((d) => formatPlatform(platformOf(d.platform) as Platform));
    throw new ImggateError(
      'PLATFORM_NOT_FOUND',
      `no manifest for ${formatPlatform(want)} in the index (it offers: ${offered.join(', ') || 'none'})`,
    );
  }
  const [first] = candidates;
  const distinct = new Set(candidates.map((d) => d.digest));
  if (distinct.size > 1) {
    throw new ImggateError('PLATFORM_NOT_FOUND', `the index lists ${distinct.size} different manifests for ${formatPlatform(want)}; refusing to guess`);
  }
  return first as Descriptor;
}

/** The index entries that are runnable images: they name a platform, and it is not `unknown/unknown`. */
export function imagePlatforms(manifests: readonly Descriptor[]): Descriptor[] {
  return manifests.filter((d) => d.platform !== undefined && d.platform.os !== 'unknown' && d.platform.architecture !== 'unknown');
}
