import type { Readable } from 'node:stream';
import * as z from '../zod.js';
import { ImggateError } from '../errors.js';
import { parseGoJson } from '../oci/go-json.js';
import { DigestVerifier, digestOf, verifyBytes } from '../oci/digest.js';
import { MAX_CONFIG_BYTES, parseImageConfig } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { describeIssues, type Descriptor } from '../oci/schemas.js';
import type { FetchedManifest } from '../registry/client.js';
import type { ArchiveFiles } from './local-files.js';
import type { ImageSource } from './types.js';

const saveManifestSchema = z.array(
  z.object({
    Config: z.string().check(z.minLength(1)),
    RepoTags: z.nullish(z.array(z.string())),
    Layers: z.array(z.string().check(z.minLength(1))),
  }),
);

/**
 * A `docker save` tarball (`docker-archive:FILE[:REPO:TAG]`). It has no manifest of its own, so one
 * is synthesised (Docker schema 2) from `manifest.json`: the config is named by the digest of its
 * bytes, and each layer by its blob digest (`blobs/sha256/…`, Docker 25+) or, for the legacy
 * `ID/layer.tar` form, by its diffID: those layers are plain tars, whose digest is their diffID.
 * The report's digest is that synthesised manifest's; pushing the image will give it another.
 */
export class DockerArchiveSource implements ImageSource {
  readonly kind = 'docker-archive' as const;
  readonly reference: string;
  readonly #files: ArchiveFiles;
  readonly #name: string | undefined;
  readonly #paths = new Map<string, string>();

  constructor(files: ArchiveFiles, name: string | undefined) {
    this.#files = files;
    this.#name = name;
    this.reference = `docker-archive:${files.where}${name !== undefined ? `:${name}` : ''}`;
  }

  async resolve(): Promise<FetchedManifest> {
    const where = this.#files.where;
    const raw = await this.#files.read('manifest.json', 16 * 1024 * 1024);
    if (!raw) throw new ImggateError('SOURCE_INVALID', `${where} is not a docker save archive: no manifest.json`);
    let json: unknown;
    try {
      // docker load reads it with Go's encoding/json: keys match as Go matches them.
      json = parseGoJson(raw, saveManifestSchema, `${where}: manifest.json`);
    } catch (err) {
      throw new ImggateError('SOURCE_INVALID', (err as Error).message, { cause: err });
    }
    const parsed = saveManifestSchema.safeParse(json);
    if (!parsed.success) throw new ImggateError('SOURCE_INVALID', `${where}: manifest.json: ${describeIssues(parsed.error).join('; ')}`);
    const images = parsed.data;
    let image = images[0];
    if (this.#name !== undefined) {
      const want = this.#name.includes(':') ? this.#name : `${this.#name}:latest`;
      const matching = images.filter((i) => (i.RepoTags ?? []).some((t) => t === want || t.endsWith(`/${want}`)));
      if (matching.length !== 1) {
        throw new ImggateError(matching.length ? 'SOURCE_AMBIGUOUS' : 'SOURCE_NOT_FOUND', `${where}: ${matching.length} images are tagged ${want}`);
      }
      image = matching[0];
    } else if (images.length !== 1) {
      const tags = images.flatMap((i) => i.RepoTags ?? []);
      throw new ImggateError('SOURCE_AMBIGUOUS', `${where} holds ${images.length} images; name one as FILE:REPO:TAG (it has: ${tags.join(', ') || 'untagged images'})`);
    }
    if (!image) throw new ImggateError('SOURCE_INVALID', `${where}: manifest.json lists no image`);

    const configBytes = await this.#files.read(image.Config, MAX_CONFIG_BYTES);
    if (!configBytes) throw new ImggateError('SOURCE_INVALID', `${where} lacks its config ${image.Config}`);
    const configDigest = digestOf(configBytes);
    this.#paths.set(configDigest, image.Config);
    const config = parseImageConfig(configBytes, `${where}:${image.Config}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== image.Layers.length) {
      throw new ImggateError('SOURCE_INVALID', `${where}: ${image.Layers.length} layers but the config names ${diffIds.length} diffIDs`);
    }
    const layers: Descriptor[] = [];
    for (const [i, layerPath] of image.Layers.entries()) {
      const opened = await this.#files.open(layerPath);
      if (!opened) throw new ImggateError('SOURCE_INVALID', `${where} lacks layer ${layerPath}`);
      opened.stream.destroy();
      const blob = /^blobs\/(sha256)\/([a-f0-9]{64})$/.exec(layerPath);
      const digest = blob ? `${blob[1]}:${blob[2]}` : (diffIds[i] as string);
      this.#paths.set(digest, layerPath);
      layers.push({ mediaType: MediaType.dockerLayer, digest, size: opened.size });
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: { mediaType: MediaType.dockerConfig, digest: configDigest, size: configBytes.length },
      layers,
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    return { bytes, digest: digestOf(bytes), contentType: MediaType.dockerManifest };
  }

  async fetchManifest(descriptor: Descriptor): Promise<FetchedManifest> {
    throw new ImggateError('NOT_FOUND', `a docker save archive holds no manifest ${descriptor.digest}`);
  }

  async fetchBlob(descriptor: Descriptor, maxBytes: number): Promise<Buffer> {
    const bytes = await this.#files.read(this.#pathOf(descriptor), maxBytes);
    if (!bytes) throw new ImggateError('NOT_FOUND', `${this.#files.where} lacks blob ${descriptor.digest}`);
    verifyBytes(bytes, descriptor, 'blob');
    return bytes;
  }

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    const opened = await this.#files.open(this.#pathOf(descriptor));
    if (!opened) throw new ImggateError('NOT_FOUND', `${this.#files.where} lacks blob ${descriptor.digest}`);
    const verifier = new DigestVerifier(descriptor, 'layer');
    opened.stream.on('error', (err) => verifier.destroy(err));
    return opened.stream.pipe(verifier);
  }

  async close(): Promise<void> {}

  #pathOf(descriptor: Descriptor): string {
    const p = this.#paths.get(descriptor.digest);
    if (!p) throw new ImggateError('NOT_FOUND', `${this.#files.where} holds no blob ${descriptor.digest}`);
    return p;
  }
}
