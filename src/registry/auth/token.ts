import { z } from 'zod';
import { ImggateError } from '../../errors.js';
import { readBody, type Transport } from '../http.js';
import type { Challenge } from './challenge.js';
import type { Credential } from './credentials.js';

const tokenResponse = z
  .object({
    token: z.string().optional(),
    access_token: z.string().optional(),
    expires_in: z.number().optional(),
  })
  .loose();

export interface BearerToken {
  readonly token: string;
  readonly expiresAt: number;
}

/**
 * The distribution token flow: ask the challenge's realm for a token for `scopes`, with the user's
 * credentials (Basic for a password, an OAuth2 refresh-token grant for an identity token) or anonymously.
 */
export async function fetchBearerToken(
  transport: Transport,
  challenge: Challenge,
  scopes: readonly string[],
  credential: Credential | undefined,
  signal: AbortSignal | undefined,
): Promise<BearerToken> {
  const realm = challenge.params['realm'];
  if (!realm) throw new ImggateError('AUTH_FAILED', 'the registry asked for a Bearer token but named no realm');
  let url: URL;
  try {
    url = new URL(realm);
  } catch (err) {
    throw new ImggateError('AUTH_FAILED', `the registry's token realm "${realm}" is not a URL`, { cause: err });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ImggateError('AUTH_FAILED', `the registry's token realm uses ${url.protocol}, not HTTP(S)`);
  }
  const service = challenge.params['service'];
  const started = Date.now();
  let response;
  if (credential?.kind === 'identity-token') {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credential.token, client_id: 'imggate' });
    if (service) form.set('service', service);
    if (scopes.length) form.set('scope', scopes.join(' '));
    response = await transport.send({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString()),
      signal,
    });
  } else {
    if (service) url.searchParams.set('service', service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    if (credential) {
      headers['authorization'] = `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
    }
    response = await transport.send({ method: 'GET', url, headers, signal });
  }
  const body = await readBody(response.body, 1024 * 1024, 'token response');
  if (response.status === 401 || response.status === 403) {
    throw new ImggateError('AUTH_FAILED', `the token service at ${url.origin} refused ${credential ? 'the credentials' : 'anonymous access'} (HTTP ${response.status})`);
  }
  if (response.status !== 200) {
    throw new ImggateError('AUTH_FAILED', `the token service at ${url.origin} answered HTTP ${response.status}`);
  }
  let parsed;
  try {
    parsed = tokenResponse.safeParse(JSON.parse(body.toString('utf8')));
  } catch (err) {
    throw new ImggateError('AUTH_FAILED', `the token service at ${url.origin} answered something other than JSON`, { cause: err });
  }
  const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : undefined;
  if (!parsed.success || !token) throw new ImggateError('AUTH_FAILED', `the token service at ${url.origin} answered without a token`);
  // The spec's default lifetime is 60 s; renew a little early.
  const lifetime = Math.max(10, parsed.data.expires_in ?? 60);
  return { token, expiresAt: started + (lifetime - 5) * 1000 };
}
