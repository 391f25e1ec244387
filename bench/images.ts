/**
 * The images `npm run bench` checks: the Debian minbase image of the integration tests, a large
 * image built on its base layer (cached beside it, since building it takes minutes), and a new tag
 * that adds one small layer to that base.
 */
import { createCipheriv, createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, copyFile, link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { RegistryClient } from '../src/registry/client.js';
import { CACHE_DIR, debianImage } from '../test/harness/debian.js';
import { sha256 } from '../test/harness/images.js';
import { makeTar, type TestEntry } from '../test/helpers/tar-writer.js';
import { keywordDenseText } from './text.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const CONFIG = 'application/vnd.oci.image.config.v1+json';
const GZIP_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const MiB = 1024 * 1024;

/** A layer as stored in an OCI layout: what the decompression yardstick reads. */
export interface LayerBlob {
  readonly file: string;
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

/** An image in an OCI layout directory, under `name`, with its layers' files. */
export interface LayoutImage {
  readonly layout: string;
  readonly name: string;
  readonly layers: readonly LayerBlob[];
  /** The Debian base layer's diffID (the first layer of every bench image). */
  readonly baseDiffId: string;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

const blobFile = (layout: string, digest: string): string => path.join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));

/** The Debian minbase image (test/harness/debian.ts); undefined where it cannot be built (not root, no debootstrap). */
export async function debianBenchImage(): Promise<LayoutImage | undefined> {
  const image = await debianImage();
  if (!image) return undefined;
  const manifest = await readJson<{ config: Descriptor; layers: Descriptor[] }>(blobFile(image.layout, image.manifestDigest));
  const config = await readJson<{ rootfs: { diff_ids: string[] } }>(blobFile(image.layout, manifest.config.digest));
  const baseDiffId = config.rootfs.diff_ids[0];
  if (!baseDiffId) throw new Error(`the Debian image in ${image.layout} has no layers`);
  return { layout: image.layout, name: 'minbase', layers: manifest.layers.map((l) => ({ ...l, file: blobFile(image.layout, l.digest) })), baseDiffId };
}

/** Passes bytes through, counting and hashing them. */
class Tap extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** Streams entries into a gzip layer blob in `layout`, never holding the layer in memory. */
async function writeGzipLayer(layout: string, entries: () => Iterable<TestEntry>): Promise<LayerBlob & { diffId: string; tarBytes: number }> {
  const partial = path.join(layout, `layer.partial-${process.pid}`);
  function* tar(): Iterable<Buffer> {
    for (const entry of entries()) yield makeTar([entry], { trailer: false });
    yield Buffer.alloc(1024);
  }
  const uncompressed = new Tap();
  const compressed = new Tap();
  await pipeline(Readable.from(tar()), uncompressed, createGzip(), compressed, createWriteStream(partial));
  const digest = `sha256:${compressed.hash.digest('hex')}`;
  const file = blobFile(layout, digest);
  await rename(partial, file);
  return { file, mediaType: GZIP_LAYER, digest, size: compressed.bytes, diffId: `sha256:${uncompressed.hash.digest('hex')}`, tarBytes: uncompressed.bytes };
}

/** Incompressible but reproducible bytes: AES-CTR of zeros under a key made from the seed. */
function randomContent(seed: number, size: number): Buffer {
  const key = createHash('sha256').update(`imggate-bench-${seed}`).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Writes manifest, config, oci-layout and index.json for `layers` (blobs already in place). */
/** A bench image's config (uid 1000, the usual PATH) and manifest. */
function imageDocuments(diffIds: readonly string[], history: readonly string[], layers: readonly Descriptor[], cmd: readonly string[]): { config: Buffer; manifest: Buffer } {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { User: '1000', Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: cmd },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: history.map((created_by) => ({ created_by })),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: CONFIG, digest: sha256(config), size: config.length },
      layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    }),
  );
  return { config, manifest };
}

async function writeLayout(layout: string, name: string, layers: readonly Descriptor[], diffIds: readonly string[], history: readonly string[]): Promise<void> {
  const { config, manifest } = imageDocuments(diffIds, history, layers, ['/bin/bash']);
  await writeFile(blobFile(layout, sha256(config)), config);
  await writeFile(blobFile(layout, sha256(manifest)), manifest);
  await writeFile(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    path.join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MANIFEST, digest: sha256(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': name } }] }),
  );
}

/**
 * The Debian base layer, then `mib` MiB of new content in two layers: four sevenths random files
 * (1 to 7 MiB each), three sevenths text files of about 60 KiB (5,000 of them at 700 MiB), every
 * other line of which names a secret, one file in fifty with a real-looking one. Cached under the
 * test image cache by size; the base blob is hard-linked from the Debian layout.
 */
export async function bigBenchImage(debian: LayoutImage, mib: number): Promise<LayoutImage & { addedBytes: number }> {
  const layout = path.join(CACHE_DIR, `bench-big-${mib}mib-v1`);
  const marker = path.join(layout, 'imggate-bench.json');
  if (await exists(marker)) return { layout, name: 'big', ...(await readJson<Omit<LayoutImage, 'layout' | 'name'> & { addedBytes: number }>(marker)) };

  await rm(layout, { recursive: true, force: true });
  await mkdir(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  const base = debian.layers[0];
  if (!base) throw new Error('the Debian image has no base layer');
  const baseCopy: LayerBlob = { ...base, file: blobFile(layout, base.digest) };
  await link(base.file, baseCopy.file).catch(() => copyFile(base.file, baseCopy.file));

  const randomBytes = Math.round((mib * MiB * 4) / 7);
  const textBytes = mib * MiB - randomBytes;
  const textFiles = Math.max(10, Math.round(textBytes / (60 * 1024)));
  const random = await writeGzipLayer(layout, function* () {
    yield { name: 'opt/', type: 'dir' };
    yield { name: 'opt/data/', type: 'dir' };
    for (let i = 0, left = randomBytes; left > 0; i++) {
      const size = Math.min(left, (1 + (i % 7)) * MiB);
      yield { name: `opt/data/blob-${String(i).padStart(4, '0')}.bin`, content: randomContent(i, size) };
      left -= size;
    }
  });
  const text = await writeGzipLayer(layout, function* () {
    const dirs = Math.ceil(textFiles / 50);
    yield { name: 'srv/', type: 'dir' };
    yield { name: 'srv/app/', type: 'dir' };
    for (let d = 0; d < dirs; d++) yield { name: `srv/app/m${d}/`, type: 'dir' };
    const suffixes = ['conf', 'yaml', 'py', 'log', 'env', 'properties'];
    for (let i = 0; i < textFiles; i++) {
      const size = Math.round(textBytes / textFiles);
      yield { name: `srv/app/m${i % dirs}/file${i}.${suffixes[i % suffixes.length]}`, content: keywordDenseText(i, size, i % 50 === 0) };
    }
  });
  const layers = [baseCopy, random, text];
  await writeLayout(layout, 'big', layers, [debian.baseDiffId, random.diffId, text.diffId], [
    'debootstrap --variant=minbase bookworm',
    `COPY data/ /opt/data/ (${(randomBytes / MiB).toFixed(0)} MiB of random files)`,
    `COPY app/ /srv/app/ (${textFiles} text files, ${(textBytes / MiB).toFixed(0)} MiB)`,
  ]);
  const info = { layers: layers.map(({ file, mediaType, digest, size }) => ({ file, mediaType, digest, size })), baseDiffId: debian.baseDiffId, addedBytes: random.tarBytes + text.tarBytes };
  await writeFile(marker, JSON.stringify(info));
  return { layout, name: 'big', ...info };
}

/**
 * Pushes the Debian base layer (already in `repository`) plus one small new layer of a few files
 * under `tag`, as a rebuild that changed only the application would; the small layer's blob is
 * written to `dir` for the decompression yardstick.
 */
export async function pushNewTag(host: string, repository: string, tag: string, debian: LayoutImage, dir: string): Promise<{ reference: string; layers: LayerBlob[]; alone: string }> {
  const base = debian.layers[0];
  if (!base) throw new Error('the Debian image has no base layer');
  const tar = makeTar([
    { name: 'srv/', type: 'dir' },
    { name: 'srv/app/', type: 'dir' },
    { name: 'srv/app/app.py', content: 'import os\n\nprint("hello from", os.uname().nodename)\n' },
    { name: 'srv/app/settings.yaml', content: 'listen: 0.0.0.0:8080\npassword: ${APP_PASSWORD}\nlog_level: info\n' },
    { name: 'srv/app/VERSION', content: `${tag}\n` },
  ]);
  const layer = gzipSync(tar);
  const small: LayerBlob = { file: path.join(dir, `${sha256(layer).slice(7)}.tar.gz`), mediaType: GZIP_LAYER, digest: sha256(layer), size: layer.length };
  await writeFile(small.file, layer);
  const image = (diffIds: readonly string[], history: readonly string[], layers: readonly LayerBlob[]): { config: Buffer; manifest: Buffer } => imageDocuments(diffIds, history, layers, ['python3', '/srv/app/app.py']);
  const copy = 'COPY app/ /srv/app/';
  const tagged = image([debian.baseDiffId, sha256(tar)], ['debootstrap --variant=minbase bookworm', copy], [base, small]);
  // The new layer as an image of its own: what that layer costs a check, to hold the new tag against.
  const alone = image([sha256(tar)], [copy], [small]);
  const client = new RegistryClient(host);
  try {
    if (!(await client.blobExists(repository, base.digest))) throw new Error(`${host}/${repository} lacks the Debian base layer ${base.digest}`);
    await client.pushBlob(repository, layer, GZIP_LAYER);
    for (const { config } of [tagged, alone]) await client.pushBlob(repository, config, CONFIG);
    await client.pushManifest(repository, tag, tagged.manifest, MANIFEST);
    await client.pushManifest(repository, `${tag}-layer-alone`, alone.manifest, MANIFEST);
  } finally {
    client.close();
  }
  return { reference: `${host}/${repository}:${tag}`, layers: [base, small], alone: `${host}/${repository}:${tag}-layer-alone` };
}
