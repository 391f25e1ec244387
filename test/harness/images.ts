import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { RegistryClient } from '../../src/registry/client.js';
import { makeTar, type TestEntry } from '../helpers/tar-writer.js';
import { runOk } from './process.js';

export type Compression = 'gzip' | 'zstd' | 'none';

export interface LayerSpec {
  entries: TestEntry[];
  compression?: Compression;
  createdBy?: string;
}

export interface BuiltBlob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

export interface BuiltImage {
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
  config: BuiltBlob;
  layers: BuiltBlob[];
  platform: { os: string; architecture: string; variant?: string };
}

export const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

const LAYER_TYPES: Record<Compression, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  none: 'application/vnd.oci.image.layer.v1.tar',
};

/** zstd from the real `zstd` tool: Node 20 cannot compress zstd, and an independent encoder is better anyway. */
export async function zstdCompress(data: Buffer): Promise<Buffer> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn('zstd', ['-q', '-c', '-3'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`zstd exited ${code}`))));
    child.stdin.end(data);
  });
}

export async function compress(tar: Buffer, compression: Compression): Promise<Buffer> {
  if (compression === 'gzip') return gzipSync(tar);
  if (compression === 'zstd') return zstdCompress(tar);
  return tar;
}

export interface ImageSpec {
  layers: LayerSpec[];
  user?: string;
  env?: string[];
  platform?: { os: string; architecture: string; variant?: string };
  /** Replace a layer's diffID in the config (to test diffID verification). */
  diffIdOverride?: Record<number, string>;
  dockerMediaTypes?: boolean;
  /** Merged into the config's `config` object (Labels, ExposedPorts, Healthcheck…). */
  extraConfig?: Record<string, unknown>;
  /** History entries that made no layer (ENV, ARG, LABEL steps), placed before the layers'. */
  emptyHistory?: string[];
  /** The manifest's annotations. */
  annotations?: Record<string, string>;
}

/** Builds an image in memory: tar layers, config with diffIDs and history, manifest. */
export async function buildImage(spec: ImageSpec): Promise<BuiltImage> {
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers: BuiltBlob[] = [];
  const diffIds: string[] = [];
  for (const [i, layer] of spec.layers.entries()) {
    const tar = makeTar(layer.entries);
    diffIds.push(spec.diffIdOverride?.[i] ?? sha256(tar));
    const compression = layer.compression ?? 'gzip';
    const data = await compress(tar, compression);
    const mediaType = spec.dockerMediaTypes
      ? compression === 'none' ? 'application/vnd.docker.image.rootfs.diff.tar' : 'application/vnd.docker.image.rootfs.diff.tar.gzip'
      : LAYER_TYPES[compression];
    layers.push({ mediaType, digest: sha256(data), size: data.length, data });
  }
  const configJson = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { User: spec.user ?? '1000', Env: spec.env ?? ['PATH=/usr/local/bin:/usr/bin:/bin'], ...spec.extraConfig },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [
      ...(spec.emptyHistory ?? []).map((created_by) => ({ created_by, empty_layer: true })),
      ...spec.layers.map((l, i) => ({ created_by: l.createdBy ?? `test layer ${i}` })),
    ],
  };
  const configData = Buffer.from(JSON.stringify(configJson));
  const configType = spec.dockerMediaTypes ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json';
  const config: BuiltBlob = { mediaType: configType, digest: sha256(configData), size: configData.length, data: configData };
  const mediaType = spec.dockerMediaTypes ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json';
  const manifestJson = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  const manifest = Buffer.from(JSON.stringify(manifestJson));
  return { manifest, manifestDigest: sha256(manifest), mediaType, config, layers, platform };
}

/**
 * A Debian 12 (bookworm) image of one small layer whose dpkg database lists `packages`: what the
 * outdated-package check reads, without a real root filesystem. `label` gives it a config of its own.
 */
export function dpkgImage(packages: ReadonlyArray<{ readonly name: string; readonly version: string }>, label?: string): Promise<BuiltImage> {
  const status = packages.map((p) => `Package: ${p.name}\nStatus: install ok installed\nPriority: required\nArchitecture: amd64\nVersion: ${p.version}\nDescription: ${p.name}\n\n`).join('');
  return buildImage({
    layers: [
      {
        entries: [
          { name: 'etc/', type: 'dir' },
          { name: 'etc/os-release', content: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n' },
          { name: 'var/', type: 'dir' },
          { name: 'var/lib/', type: 'dir' },
          { name: 'var/lib/dpkg/', type: 'dir' },
          { name: 'var/lib/dpkg/status', content: status },
        ],
      },
    ],
    extraConfig: { Healthcheck: { Test: ['CMD', 'true'] }, ...(label === undefined ? {} : { Labels: { build: label } }) },
  });
}

/** Pushes an image with imggate's own client (blobs, then the manifest under `tag`). */
export async function pushImage(host: string, repository: string, tag: string, image: BuiltImage, client = new RegistryClient(host)): Promise<string> {
  for (const blob of [image.config, ...image.layers]) await client.pushBlob(repository, blob.data, blob.mediaType);
  await client.pushManifest(repository, tag, image.manifest, image.mediaType);
  return image.manifestDigest;
}

/** Pushes platform images and an OCI index over them. */
export async function pushIndex(host: string, repository: string, tag: string, images: BuiltImage[], client = new RegistryClient(host)): Promise<string> {
  for (const image of images) await pushImage(host, repository, image.manifestDigest, image, client);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: images.map((i) => ({ mediaType: i.mediaType, digest: i.manifestDigest, size: i.manifest.length, platform: i.platform })),
    }),
  );
  await client.pushManifest(repository, tag, index, 'application/vnd.oci.image.index.v1+json');
  return sha256(index);
}

/** Writes an image as an OCI image layout directory, named `name`. */
export async function writeOciLayout(dir: string, name: string, image: BuiltImage): Promise<void> {
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const blob of [image.config, ...image.layers, { data: image.manifest, digest: image.manifestDigest }]) {
    await writeFile(path.join(dir, 'blobs', 'sha256', blob.digest.slice(7)), blob.data);
  }
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: image.mediaType, digest: image.manifestDigest, size: image.manifest.length, annotations: { 'org.opencontainers.image.ref.name': name } }],
    }),
  );
}

/** Copies an image with the real skopeo (an independent producer and consumer of the formats). */
export async function skopeoCopy(from: string, to: string): Promise<void> {
  await runOk('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', '--insecure-policy', from, to]);
}
