import type { Readable } from 'node:stream';
import { ImggateError } from '../errors.js';
import { DigestVerifier, parseDigest, verifyBytes } from '../oci/digest.js';
import { MAX_MANIFEST_BYTES, parseManifest } from '../oci/manifest.js';
import type { Descriptor } from '../oci/schemas.js';
import type { FetchedManifest } from '../registry/client.js';

/** Raw access to the files of an OCI image layout, wherever it is stored. */
export interface LayoutFiles {
  /** The file at a layout-relative path, or undefined when there is none. */
  read(path: string, maxBytes: number): Promise<Buffer | undefined>;
  /** Opens a file as a stream with its size, or undefined when there is none. */
  open(path: string): Promise<{ stream: Readable; size: number } | undefined>;
  readonly where: string;
}

export const REF_NAME = 'org.opencontainers.image.ref.name';

/** `blobs/<alg>/<hex>` for a digest that has been validated, so no path can be smuggled in. */
export function blobPath(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex}`;
}

/** Reading an OCI image layout (image-spec `image-layout.md`): `oci-layout`, `index.json`, `blobs/`. */
export class LayoutReader {
  readonly #files: LayoutFiles;
  readonly #tag: string | undefined;

  constructor(files: LayoutFiles, tag: string | undefined) {
    this.#files = files;
    this.#tag = tag;
  }

  async resolve(): Promise<FetchedManifest> {
    const marker = await this.#files.read('oci-layout', 64 * 1024);
    if (!marker) throw new ImggateError('SOURCE_INVALID', `${this.#files.where} is not an OCI image layout: no oci-layout file`);
    let version: unknown;
    try {
      version = (JSON.parse(marker.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch (err) {
      throw new ImggateError('SOURCE_INVALID', `${this.#files.where}: oci-layout is not JSON`, { cause: err });
    }
    if (typeof version !== 'string' || !version.startsWith('1.')) {
      throw new ImggateError('SOURCE_INVALID', `${this.#files.where}: unsupported imageLayoutVersion ${JSON.stringify(version)}`);
    }
    const indexBytes = await this.#files.read('index.json', MAX_MANIFEST_BYTES);
    if (!indexBytes) throw new ImggateError('SOURCE_INVALID', `${this.#files.where} has no index.json`);
    const parsed = parseManifest(indexBytes, undefined, `${this.#files.where}/index.json`);
    if (parsed.kind !== 'index') throw new ImggateError('SOURCE_INVALID', `${this.#files.where}/index.json is not an image index`);
    const manifests = parsed.index.manifests;
    let chosen: Descriptor | undefined;
    if (this.#tag !== undefined) {
      const tag = this.#tag;
      const matching = manifests.filter((d) => {
        const name = d.annotations?.[REF_NAME];
        return name === tag || (name !== undefined && name.endsWith(`:${tag}`));
      });
      if (matching.length === 0) {
        throw new ImggateError('SOURCE_NOT_FOUND', `${this.#files.where} has no image named "${tag}" (it has: ${names(manifests)})`);
      }
      if (new Set(matching.map((d) => d.digest)).size > 1) {
        throw new ImggateError('SOURCE_AMBIGUOUS', `${this.#files.where} has several images named "${tag}"`);
      }
      chosen = matching[0];
    } else if (manifests.length === 1) {
      chosen = manifests[0];
    } else {
      throw new ImggateError(
        'SOURCE_AMBIGUOUS',
        `${this.#files.where} holds ${manifests.length} images; name one as DIR:NAME (it has: ${names(manifests)})`,
      );
    }
    return this.fetchManifest(chosen as Descriptor);
  }

  async fetchManifest(descriptor: Descriptor): Promise<FetchedManifest> {
    if (descriptor.size > MAX_MANIFEST_BYTES) {
      throw new ImggateError('MANIFEST_TOO_LARGE', `manifest ${descriptor.digest} is ${descriptor.size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`);
    }
    const bytes = await this.fetchBlob(descriptor, MAX_MANIFEST_BYTES);
    return { bytes, digest: descriptor.digest, contentType: descriptor.mediaType };
  }

  async fetchBlob(descriptor: Descriptor, maxBytes: number): Promise<Buffer> {
    if (descriptor.size > maxBytes) {
      throw new ImggateError('BLOB_TOO_LARGE', `blob ${descriptor.digest} is ${descriptor.size} bytes, over the ${maxBytes}-byte limit`);
    }
    const bytes = await this.#files.read(blobPath(descriptor.digest), maxBytes);
    if (!bytes) throw new ImggateError('NOT_FOUND', `${this.#files.where} lacks blob ${descriptor.digest}`);
    verifyBytes(bytes, descriptor, 'blob');
    return bytes;
  }

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    const opened = await this.#files.open(blobPath(descriptor.digest));
    if (!opened) throw new ImggateError('NOT_FOUND', `${this.#files.where} lacks blob ${descriptor.digest}`);
    if (opened.size !== descriptor.size) {
      opened.stream.destroy();
      throw new ImggateError('SIZE_MISMATCH', `blob ${descriptor.digest}: the file has ${opened.size} bytes, the descriptor says ${descriptor.size}`);
    }
    const verifier = new DigestVerifier(descriptor, 'blob');
    opened.stream.on('error', (err) => verifier.destroy(err));
    return opened.stream.pipe(verifier);
  }
}

function names(manifests: readonly Descriptor[]): string {
  const list = manifests.map((d) => d.annotations?.[REF_NAME] ?? d.digest.slice(0, 19));
  return list.slice(0, 10).join(', ') + (list.length > 10 ? ', …' : '');
}
