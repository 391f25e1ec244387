import { createHash } from 'node:crypto';
import type * as z from '../../zod.js';
import { ImggateError, type ServerErrorCode } from '../../errors.js';
import { parseReference } from '../../registry/reference.js';

/** JSON.parse then a schema; every problem is a 400 naming the field, never echoing the body. */
export function parseJson<T extends z.ZodMiniType>(schema: T, body: Buffer, what: string): z.infer<T> {
  let data: unknown;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ImggateError<ServerErrorCode>('PAYLOAD_INVALID', `${what}: the body is not JSON`);
  }
  const result = schema.safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
    throw new ImggateError<ServerErrorCode>('PAYLOAD_INVALID', `${what}: ${problems.join('; ')}`);
  }
  return result.data;
}

export function invalid(message: string): ImggateError<ServerErrorCode> {
  return new ImggateError<ServerErrorCode>('PAYLOAD_INVALID', message);
}

/** An id for senders that give none: the same delivery hashes to the same id, so a redelivery dedupes. */
export function derivedId(...parts: readonly string[]): string {
  return `sha256:${createHash('sha256').update(parts.join('\n')).digest('hex')}`;
}

/**
 * `host/repo[:tag][@digest]` → parts, through the same parser `check` uses, so the registry the event
 * names is the one the allowlist is asked about.
 */
export function splitImage(text: string): { registry: string; repository: string; tag?: string | undefined; digest?: string | undefined } {
  try {
    const ref = parseReference(text);
    return { registry: ref.registry, repository: ref.repository, tag: ref.tag, digest: ref.digest };
  } catch (err) {
    throw invalid(`"${text.slice(0, 200)}" is not an image reference: ${(err as Error).message}`);
  }
}

export const DIGEST = /^sha256:[a-f0-9]{64}$/;
