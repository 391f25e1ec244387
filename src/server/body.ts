import type { IncomingMessage } from 'node:http';
import { ImggateError, type ServerErrorCode } from '../errors.js';

/** The media type of a request, lowercased, without parameters; '' when absent. */
export function mediaTypeOf(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Reads the raw body up to `limit` bytes. Raw, because signatures are over the exact bytes, and because
 * a JSON parser keyed on `application/json` would leave distribution's vendor media types unread
 * while the request still "succeeds". A declared or actual size over the limit is a 413.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = (): ImggateError<ServerErrorCode> => new ImggateError('PAYLOAD_TOO_LARGE', `the body is larger than ${limit} bytes`);
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        // Keep draining (not destroying) so the 413 reaches the sender.
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!done) reject(new ImggateError<ServerErrorCode>('PAYLOAD_INVALID', `the body could not be read: ${err.message}`, { cause: err }));
      done = true;
    });
  });
}
