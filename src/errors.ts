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
  /** A request outlived its own total deadline (headers and body), however steadily bytes trickled in. */
  | 'REQUEST_DEADLINE'
  /** The connection closed before the body the server announced had arrived. */
  | 'BODY_TRUNCATED'
  /** A header value to send holds CR, LF or another control character (a token or URL from a server). */
  | 'HEADER_INVALID'
  /** A URL a server named (redirect, token realm, upload location) cannot be parsed or has a bad port. */
  | 'URL_INVALID'
  /** The server broke HTTP itself: an endless run of 1xx answers, a malformed response. */
  | 'PROTOCOL_ERROR'
  /** An HTTPS registry named a plain-HTTP token realm: the credentials would travel in clear text. */
  | 'AUTH_REALM_INSECURE'
  | 'PRECONDITION_FAILED';

export type SourceErrorCode =
  | 'SOURCE_INVALID'
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_AMBIGUOUS'
  /** A file of a local layout resolves (through a symlink) outside the layout directory. */
  | 'SOURCE_ESCAPE';

/** A count in an image (layers, platforms, config entries) is over its `limits.*` setting. */
export type LimitErrorCode = 'LIMIT_EXCEEDED';

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

/** `imggate serve`'s edge: each maps to one HTTP status in src/server/http-errors.ts. */
export type ServerErrorCode =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'PAYLOAD_INVALID'
  | 'PAYLOAD_TOO_LARGE'
  | 'CONTENT_TYPE_UNSUPPORTED'
  | 'REGISTRY_NOT_ALLOWED'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAVAILABLE';

/** Distribution feeds: an archive state too old to trust, or older than the one already held. */
export type FeedErrorCode = 'FEED_STALE' | 'FEED_REPLAYED' | 'FEED_LOCKED';

export type ErrorCode = OciErrorCode | RegistryErrorCode | SourceErrorCode | LimitErrorCode | LayerErrorCode | ConfigErrorCode | AttestErrorCode | StoreErrorCode | ServerErrorCode | FeedErrorCode;

export function isImggateError(err: unknown): err is ImggateError<ErrorCode> {
  return err instanceof ImggateError;
}

/** A thrown value as one line for a message or a finding: `CODE: message` for imggate's own errors. */
export function describeError(err: unknown): string {
  return isImggateError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
}

/** Wraps anything thrown into an ImggateError, keeping the original as cause. */
export function asImggateError(err: unknown, fallback: ErrorCode, context: string): ImggateError<ErrorCode> {
  if (isImggateError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ImggateError(fallback, `${context}: ${message}`, { cause: err });
}
