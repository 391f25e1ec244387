import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/schemas.js';
import type { FetchedManifest, RegistryClient } from '../registry/client.js';

export type SourceKind = 'registry' | 'oci' | 'oci-archive' | 'docker-archive';

export type { FetchedManifest };

/**
 * Where an image's bytes come from. Every method returns content already checked against the digest
 * (and size) it was asked for, or fails; callers never see unverified bytes.
 */
export interface ImageSource {
  readonly kind: SourceKind;
  /** The reference as reports show it, normalised. */
  readonly reference: string;
  /** The root manifest or index the reference names; a tag is resolved here, once. */
  resolve(): Promise<FetchedManifest>;
  fetchManifest(descriptor: Descriptor): Promise<FetchedManifest>;
  fetchBlob(descriptor: Descriptor, maxBytes: number): Promise<Buffer>;
  openBlob(descriptor: Descriptor): Promise<Readable>;
  /** Where signatures of this image live (its own registry, never a mirror); none for local sources. */
  signatureStore?(): { readonly client: RegistryClient; readonly repository: string };
  close(): Promise<void>;
}
