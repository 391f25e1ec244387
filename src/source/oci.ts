import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/schemas.js';
import type { FetchedManifest } from '../registry/client.js';
import { LayoutReader, type LayoutFiles } from './layout.js';
import type { ImageSource, SourceKind } from './types.js';

/** An OCI image layout, as a directory (`oci:DIR[:NAME]`) or a tar of one (`oci-archive:FILE[:NAME]`). */
export class OciLayoutSource implements ImageSource {
  readonly kind: SourceKind;
  readonly reference: string;
  readonly #reader: LayoutReader;

  constructor(kind: 'oci' | 'oci-archive', files: LayoutFiles, name: string | undefined) {
    this.kind = kind;
    this.reference = `${kind}:${files.where}${name !== undefined ? `:${name}` : ''}`;
    this.#reader = new LayoutReader(files, name);
  }

  resolve(): Promise<FetchedManifest> {
    return this.#reader.resolve();
  }

  fetchManifest(descriptor: Descriptor): Promise<FetchedManifest> {
    return this.#reader.fetchManifest(descriptor);
  }

  fetchBlob(descriptor: Descriptor, maxBytes: number): Promise<Buffer> {
    return this.#reader.fetchBlob(descriptor, maxBytes);
  }

  openBlob(descriptor: Descriptor): Promise<Readable> {
    return this.#reader.openBlob(descriptor);
  }

  async close(): Promise<void> {}
}
