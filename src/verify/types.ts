/** A signature found for an image digest, as fetched (all bytes checked against their digests). */
export type Evidence =
  | {
      readonly kind: 'cosign';
      /** Where it was found: the `.sig` tag, or a referrer manifest. */
      readonly source: string;
      /** The signature artifact's manifest digest. */
      readonly digest: string;
      readonly payload: Buffer;
      /** Base64 signature from the `dev.cosignproject.cosign/signature` annotation. */
      readonly signature: string;
    }
  | { readonly kind: 'sigstore-bundle'; readonly source: string; readonly digest: string; readonly bundle: Buffer }
  | { readonly kind: 'notation'; readonly source: string; readonly digest: string; readonly envelope: Buffer; readonly mediaType: string };

export type EvidenceFormat = Evidence['kind'];

/** What verifying one piece of evidence against one signer gave. */
export interface Verification {
  readonly ok: boolean;
  readonly reason: string;
  /** Who signed, as the signer type knows it (key file, certificate identity, certificate subject). */
  readonly identity?: string;
}

/** What the image is, for binding a signature to it. */
export interface SignedSubject {
  /** The manifest (or index) digest the signature must name. */
  readonly digest: string;
  /** Its exact bytes: a message-signature bundle signs these. */
  readonly bytes: Buffer;
  readonly mediaType: string;
  /** `registry/repository`, for cosign's docker-reference. */
  readonly repository: string;
}
