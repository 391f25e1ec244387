import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Equality that takes the same time wherever the strings differ: both sides are hashed first, so
 * neither the position of the first difference nor the length of the secret shows in the timing.
 */
export function constantTimeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** `Authorization: Bearer T` or a bare `T` (Harbor sends the configured value as it is). */
export function tokenFrom(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m ? (m[1] as string) : header.trim();
}

/** Checks a token against all of `expected` without stopping at the first match. */
export function matchToken<T>(given: string | undefined, expected: ReadonlyArray<{ readonly secret: string; readonly value: T }>): T | undefined {
  if (given === undefined) return undefined;
  let found: T | undefined;
  for (const e of expected) if (constantTimeEqual(given, e.secret) && found === undefined) found = e.value;
  return found;
}

export interface StandardWebhookHeaders {
  readonly id: string | undefined;
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
}

/**
 * The Standard Webhooks scheme: `webhook-signature` lists `v1,<base64 HMAC-SHA256>` entries over
 * `<id>.<timestamp>.<raw body>`, keyed by the base64 after `whsec_`; the timestamp must be within
 * `toleranceMs` of now, which bounds replays (the id is also kept, so a replay inside the window is a
 * duplicate event).
 */
export function verifyStandardWebhook(secret: string, headers: StandardWebhookHeaders, body: Buffer, nowMs: number, toleranceMs: number): boolean {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature || !/^[0-9]{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs - Number(timestamp) * 1000) > toleranceMs) return false;
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
  let ok = false;
  for (const entry of signature.split(' ')) {
    const [version, sig] = entry.split(',', 2);
    if (version !== 'v1' || sig === undefined) continue;
    const given = Buffer.from(sig, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) ok = true;
  }
  return ok;
}

/** Signs as a Standard Webhooks sender does (tests and the bench send with it). */
export function signStandardWebhook(secret: string, id: string, timestamp: number, body: Buffer | string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')}`;
}
