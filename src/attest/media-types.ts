/**
 * The Sigstore bundle v0.3 media type: the referrer's artifactType and its one layer's type. Written
 * out rather than taken from `@sigstore/bundle`, so that a check that signs and verifies nothing does
 * not load Sigstore's libraries (test/attest/media-types.test.ts holds it equal to theirs).
 */
export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
