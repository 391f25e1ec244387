import { ImggateError, isImggateError, type ServerErrorCode } from '../errors.js';

/** The one place error codes become HTTP statuses. Anything unlisted is the service's own fault: 500. */
const STATUS: Partial<Record<string, number>> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  REGISTRY_NOT_ALLOWED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  CONTENT_TYPE_UNSUPPORTED: 415,
  PAYLOAD_INVALID: 400,
  REFERENCE_INVALID: 400,
  DIGEST_INVALID: 400,
  // The image's registry failed us while resolving a tag at ingest: the sender may retry.
  AUTH_FAILED: 502,
  HTTP_ERROR: 502,
  NETWORK: 502,
  TIMEOUT: 504,
  DIGEST_MISMATCH: 502,
  MANIFEST_INVALID: 502,
  MANIFEST_TOO_LARGE: 502,
  STORE_FAILED: 503,
  UNAVAILABLE: 503,
};

export function statusOf(err: unknown): number {
  return isImggateError(err) ? (STATUS[err.code] ?? 500) : 500;
}

export function httpError(code: ServerErrorCode, message: string): ImggateError<ServerErrorCode> {
  return new ImggateError(code, message);
}

/** Every authentication failure looks the same, so a prober learns nothing about which check failed. */
export const UNAUTHORIZED = (): ImggateError<ServerErrorCode> => httpError('UNAUTHORIZED', 'unauthorized');
