/**
 * Every error imggate raises carries a machine-readable code from its module's union and keeps the
 * underlying cause. Codes map to CLI exit codes and HTTP statuses in one place each (cli/exit-codes.ts).
 */
export class ImggateError<C extends string = string> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ImggateError';
    this.code = code;
  }
}

export type OciErrorCode =
  | 'DIGEST_INVALID'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'BLOB_TOO_LARGE'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_TOO_LARGE'
  | 'MEDIA_TYPE_UNSUPPORTED'
  | 'PLATFORM_INVALID'
  | 'PLATFORM_NOT_FOUND';

export type RegistryErrorCode =
  | 'REFERENCE_INVALID'
  | 'AUTH_FAILED'
  | 'CREDENTIALS_INVALID'
  | 'NOT_FOUND'
  | 'HTTP_ERROR'
  | 'NETWORK'
  | 'TOO_MANY_REDIRECTS'
  | 'TIMEOUT'
  | 'PRECONDITION_FAILED';

export type SourceErrorCode = 'SOURCE_INVALID' | 'SOURCE_NOT_FOUND' | 'SOURCE_AMBIGUOUS';

export type LayerErrorCode =
  | 'LAYER_TOO_LARGE'
  | 'LAYER_DECOMPRESS_FAILED'
  | 'LAYER_COMPRESSION_UNSUPPORTED'
  | 'DIFF_ID_MISMATCH'
  | 'TAR_INVALID'
  | 'TOTAL_TOO_LARGE'
  | 'CHECK_TIMEOUT';

export type ConfigErrorCode = 'CONFIG_INVALID' | 'CONFIG_NOT_FOUND' | 'USAGE';

/** Keys, signed statements and their bundles. */
export type AttestErrorCode = 'KEY_INVALID' | 'KEY_PASSWORD' | 'BUNDLE_INVALID' | 'SIGNATURE_INVALID' | 'STATEMENT_INVALID';

export type StoreErrorCode = 'STORE_FAILED';

/** Distribution feeds: an archive state too old to trust, or older than the one already held. */
export type FeedErrorCode = 'FEED_STALE' | 'FEED_REPLAYED' | 'FEED_LOCKED';

export type ErrorCode = OciErrorCode | RegistryErrorCode | SourceErrorCode | LayerErrorCode | ConfigErrorCode | AttestErrorCode | StoreErrorCode | FeedErrorCode;

export function isImggateError(err: unknown): err is ImggateError<ErrorCode> {
  return err instanceof ImggateError;
}

/** Wraps anything thrown into an ImggateError, keeping the original as cause. */
export function asImggateError(err: unknown, fallback: ErrorCode, context: string): ImggateError<ErrorCode> {
  if (isImggateError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ImggateError(fallback, `${context}: ${message}`, { cause: err });
}
