import { stat } from 'node:fs/promises';
import { ImggateError } from '../errors.js';
import type { Resolved } from '../options.js';
import type { RegistryClient } from '../registry/client.js';
import { parseReference } from '../registry/reference.js';
import { DockerArchiveSource } from './docker-archive.js';
import { ArchiveFiles, DirectoryFiles } from './local-files.js';
import { OciLayoutSource } from './oci.js';
import { RegistrySource } from './registry.js';
import type { ImageSource } from './types.js';

export type { ImageSource, SourceKind } from './types.js';

/** Splits `PATH[:NAME]`, where PATH may itself hold colons: the longest existing prefix wins. */
async function splitPathAndName(spec: string): Promise<{ path: string; name: string | undefined }> {
  if (await exists(spec)) return { path: spec, name: undefined };
  const colon = spec.indexOf(':');
  for (let i = spec.lastIndexOf(':'); i > 0; i = spec.lastIndexOf(':', i - 1)) {
    if (await exists(spec.slice(0, i))) return { path: spec.slice(0, i), name: spec.slice(i + 1) };
  }
  if (colon > 0) return { path: spec.slice(0, colon), name: spec.slice(colon + 1) };
  return { path: spec, name: undefined };
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Opens an image by reference: `oci:DIR[:NAME]`, `oci-archive:FILE[:NAME]`,
 * `docker-archive:FILE[:REPO:TAG]`, or a registry reference (optionally `docker://`).
 */
export async function openSource(text: string, resolved: Resolved, signal?: AbortSignal): Promise<ImageSource> {
  const transport = /^(oci|oci-archive|docker-archive):(.*)$/s.exec(text);
  if (transport) {
    const kind = transport[1] as 'oci' | 'oci-archive' | 'docker-archive';
    const { path, name } = await splitPathAndName(transport[2] ?? '');
    if (!path) throw new ImggateError('USAGE', `${kind}: needs a path`);
    if (!(await exists(path))) throw new ImggateError('SOURCE_NOT_FOUND', `${path} does not exist`);
    if (kind === 'oci') return new OciLayoutSource('oci', new DirectoryFiles(path), name);
    const files = await ArchiveFiles.open(path);
    if (kind === 'oci-archive') return new OciLayoutSource('oci-archive', files, name);
    return new DockerArchiveSource(files, name);
  }
  const ref = parseReference(text.replace(/^docker:\/\//, ''));
  const settings = resolved.registry(ref.registry);
  const make = (host: string): RegistryClient =>
    resolved.client(host, { signal, requestTimeoutMs: resolved.limits.requestTimeoutMs, minBytesPerSecond: resolved.limits.minBytesPerSecond });
  return new RegistrySource(ref, [...settings.mirrors.map(make), make(ref.registry)]);
}
