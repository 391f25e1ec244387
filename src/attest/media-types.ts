/** The Sigstore bundle v0.3 media type: the referrer's artifactType and its one layer's type. */
export { BUNDLE_V03_MEDIA_TYPE as BUNDLE_MEDIA_TYPE } from '@sigstore/bundle';
