import type { Readable } from 'node:stream';
import { ImggateError } from '../errors.js';
import { MAX_MANIFEST_BYTES } from '../oci/manifest.js';
import type { Descriptor } from '../oci/schemas.js';
import { RegistryClient, type FetchedManifest } from '../registry/client.js';
import { formatReference, type ImageReference } from '../registry/reference.js';
import type { ImageSource } from './types.js';

/**
 * An image in a registry, optionally through mirrors tried first (safe: everything is fetched by
 * digest and verified, so a mirror can withhold content but not change it).
 */
export class RegistrySource implements ImageSource {
  readonly kind = 'registry' as const;
  readonly reference: string;
  readonly ref: ImageReference;
  readonly #clients: readonly RegistryClient[];

  /** `clients`: mirrors first, the image's own registry last. */
  constructor(ref: ImageReference, clients: readonly RegistryClient[]) {
    this.ref = ref;
    this.reference = formatReference(ref);
    this.#clients = clients;
  }

  resolve(): Promise<FetchedManifest> {
    const reference = this.ref.digest ?? this.ref.tag ?? 'latest';
    return this.#first((c) => c.getManifest(this.ref.repository, reference));
  }

  async fetchManifest(descriptor: Descriptor): Promise<FetchedManifest> {
    if (descriptor.size > MAX_MANIFEST_BYTES) {
      throw new ImggateError('MANIFEST_TOO_LARGE', `manifest ${descriptor.digest} is ${descriptor.size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`);
    }
    const fetched = await this.#first((c) => c.getManifest(this.ref.repository, descriptor.digest));
    if (fetched.bytes.length !== descriptor.size) {
      throw new ImggateError('SIZE_MISMATCH', `manifest ${descriptor.digest}: expected ${descriptor.size} bytes, got ${fetched.bytes.length}`);
    }
    return fetched;
  }

  fetchBlob(descriptor: Descriptor, maxBytes: number): Promise<Buffer> {
    return this.#first((c) => c.fetchBlob(this.ref.repository, descriptor, maxBytes));
  }

  openBlob(descriptor: Descriptor): Promise<Readable> {
    return this.#first((c) => c.openBlob(this.ref.repository, descriptor));
  }

  signatureStore(): { client: RegistryClient; repository: string } {
    // Mirrors serve content by digest; signatures and referrers are the image's own registry's word.
    return { client: this.#clients[this.#clients.length - 1] as RegistryClient, repository: this.ref.repository };
  }

  async close(): Promise<void> {
    for (const client of this.#clients) client.close();
  }

  /** The first client that answers; an integrity failure is never retried elsewhere, it is the answer. */
  async #first<T>(fn: (client: RegistryClient) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (const client of this.#clients) {
      try {
        return await fn(client);
      } catch (err) {
        lastError = err;
        const fallible = err instanceof ImggateError && ['NOT_FOUND', 'NETWORK', 'HTTP_ERROR', 'AUTH_FAILED', 'TIMEOUT'].includes(err.code);
        if (!fallible) throw err;
      }
    }
    throw lastError;
  }
}
