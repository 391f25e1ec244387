import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { readAptSources } from '../../src/feeds/host-sources.js';
import { makeTar } from '../helpers/tar-writer.js';
import { sha256, zstdCompress } from './images.js';
import { run, runOk, which } from './process.js';

/** Where built test images are cached between runs on one machine (debootstrap takes a while). */
export const CACHE_DIR = process.env['IMGGATE_TEST_CACHE'] ?? '/var/tmp/imggate-test-cache';
const SUITE = 'bookworm';

/** The Debian archive debootstrap reads: IMGGATE_DEBIAN_MIRROR, else the one this machine's apt names (no host is written here). */
export async function debianMirror(): Promise<string> {
  const fromEnv = process.env['IMGGATE_DEBIAN_MIRROR'];
  if (fromEnv) return fromEnv;
  const uri = (await readAptSources('/etc/apt')).map((s) => s.uri.replace(/\/+$/, '')).find((u) => /^https?:\/\/.+\/debian$/.test(u));
  if (!uri) throw new Error("no Debian archive in apt's sources (/etc/apt/sources.list*): set IMGGATE_DEBIAN_MIRROR");
  return uri;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/** A real `debootstrap --variant=minbase` Debian rootfs, built once and cached; undefined when it cannot be built here. */
export async function debianRootfs(): Promise<string | undefined> {
  const rootfs = path.join(CACHE_DIR, `rootfs-${SUITE}-minbase`);
  if (await exists(path.join(rootfs, 'var/lib/dpkg/status'))) return rootfs;
  if (!(await which('debootstrap')) || process.getuid?.() !== 0) return undefined;
  const partial = `${rootfs}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(CACHE_DIR, { recursive: true });
  const r = await run('debootstrap', ['--variant=minbase', SUITE, partial, await debianMirror()]);
  if (r.code !== 0) throw new Error(`debootstrap failed: ${r.stderr.slice(-2000)}`);
  await rename(partial, rootfs);
  return rootfs;
}

async function digestFile(file: string, gunzip: boolean): Promise<string> {
  const hash = createHash('sha256');
  if (gunzip) await pipeline(createReadStream(file), createGunzip(), hash);
  else await pipeline(createReadStream(file), hash);
  return `sha256:${hash.digest('hex')}`;
}

export interface DebianImage {
  /**
   * OCI image layout directory holding the image under the name `minbase`, and the stock base layer
   * alone with `USER nobody` under `minbase-nonroot`.
   */
  readonly layout: string;
  readonly manifestDigest: string;
  readonly layerDigests: readonly string[];
}

/**
 * A three-layer Debian image in an OCI layout: the minbase rootfs packed by node-tar (gzip), a
 * layer that deletes the docs (opaque whiteout) and the man pages (whiteout) and adds a file (gzip,
 * from imggate's test writer), and a zstd layer with a setuid helper dropped into /usr/local/bin.
 */
export async function debianImage(): Promise<DebianImage | undefined> {
  const rootfs = await debianRootfs();
  if (!rootfs) return undefined;
  const layout = path.join(CACHE_DIR, `layout-${SUITE}-minbase-v2`);
  const marker = path.join(layout, 'imggate-test.json');
  if (await exists(marker)) {
    const { readFile } = await import('node:fs/promises');
    return { layout, ...(JSON.parse(await readFile(marker, 'utf8')) as Omit<DebianImage, 'layout'>) };
  }
  await rm(layout, { recursive: true, force: true });
  const blobs = path.join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const baseFile = path.join(layout, 'base.tar.gz');
  // Device nodes are left out, as image builders leave them out: the runtime makes /dev.
  const isNode = (st: { isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): boolean =>
    st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO() || st.isSocket();
  await tar.c({ gzip: true, cwd: rootfs, file: baseFile, filter: (_p, st) => !('isCharacterDevice' in st) || !isNode(st) }, ['.']);
  const baseDigest = await digestFile(baseFile, false);
  const baseDiffId = await digestFile(baseFile, true);
  const baseSize = (await stat(baseFile)).size;
  await rename(baseFile, path.join(blobs, baseDigest.slice(7)));

  const { gzipSync } = await import('node:zlib');
  const tar2 = makeTar([
    { name: 'usr/share/doc/.wh..wh..opq' },
    { name: 'usr/share/.wh.man' },
    { name: 'etc/imggate-release', content: 'test image\n' },
  ]);
  const layer2 = gzipSync(tar2);
  const tar3 = makeTar([
    { name: 'usr/local/bin/', type: 'dir' },
    { name: 'usr/local/bin/helper', content: '#!/bin/sh\nexec /bin/sh\n', mode: 0o4755 },
  ]);
  const layer3 = await zstdCompress(tar3);
  for (const data of [layer2, layer3]) await writeFile(path.join(blobs, sha256(data).slice(7)), data);

  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/bash'] },
      rootfs: { type: 'layers', diff_ids: [baseDiffId, sha256(tar2), sha256(tar3)] },
      history: [
        { created_by: `debootstrap --variant=minbase ${SUITE}` },
        { created_by: 'RUN rm -rf /usr/share/doc/* /usr/share/man' },
        { created_by: 'COPY helper /usr/local/bin/helper' },
      ],
    }),
  );
  await writeFile(path.join(blobs, sha256(config).slice(7)), config);
  const layers = [
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: baseDigest, size: baseSize },
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer2), size: layer2.length },
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: sha256(layer3), size: layer3.length },
  ];
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers,
    }),
  );
  await writeFile(path.join(blobs, sha256(manifest).slice(7)), manifest);
  const stockConfig = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { User: 'nobody', Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/bash'] },
      rootfs: { type: 'layers', diff_ids: [baseDiffId] },
      history: [{ created_by: `debootstrap --variant=minbase ${SUITE}` }],
    }),
  );
  await writeFile(path.join(blobs, sha256(stockConfig).slice(7)), stockConfig);
  const stockManifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(stockConfig), size: stockConfig.length },
      layers: [layers[0]],
    }),
  );
  await writeFile(path.join(blobs, sha256(stockManifest).slice(7)), stockManifest);
  await writeFile(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'minbase' } },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256(stockManifest),
          size: stockManifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'minbase-nonroot' },
        },
      ],
    }),
  );
  const info = { manifestDigest: sha256(manifest), layerDigests: layers.map((l) => l.digest) };
  await writeFile(marker, JSON.stringify(info));
  return { layout, ...info };
}

/** How many packages dpkg itself says are installed in a rootfs. */
export async function dpkgPackageCount(rootfs: string): Promise<number> {
  const out = await runOk('dpkg-query', ['--admindir', path.join(rootfs, 'var/lib/dpkg'), '-W', '-f', '${db:Status-Abbrev}\n']);
  return out.split('\n').filter((l) => l.startsWith('ii')).length;
}
