import * as z from '../../zod.js';
import { ImggateError } from '../../errors.js';
import { readBody, serverUrl, type Transport } from '../http.js';
import type { Challenge } from './challenge.js';
import type { Credential } from './credentials.js';

const tokenResponse = z.looseObject({
  token: z.optional(z.string()),
  access_token: z.optional(z.string()),
  expires_in: z.optional(z.number()),
});

export interface BearerToken {
  readonly token: string;
  readonly expiresAt: number;
}

/**
 * The distribution token flow: ask the challenge's realm for a token for `scopes`, with the user's
 * credentials (Basic for a password, an OAuth2 refresh-token grant for an identity token) or anonymously.
 *
 * The realm may be another host (Docker Hub's tokens come from auth.docker.io), as Docker allows; but a
 * registry reached over HTTPS may not send the credentials to a plain-HTTP realm, where anyone on the
 * path would read them (`registry`: the URL the registry itself is spoken to at).
 */
export async function fetchBearerToken(
  transport: Transport,
  challenge: Challenge,
  scopes: readonly string[],
  credential: Credential | undefined,
  signal: AbortSignal | undefined,
  registry?: URL,
): Promise<BearerToken> {
  const realm = challenge.params['realm'];
  if (!realm) throw new ImggateError('AUTH_FAILED', 'the registry asked for a Bearer token but named no realm');
  const url = serverUrl(realm, undefined, "the registry's token realm");
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ImggateError('AUTH_FAILED', `the registry's token realm uses ${url.protocol}, not HTTP(S)`);
  }
  if (registry?.protocol === 'https:' && url.protocol === 'http:') {
    throw new ImggateError(
      'AUTH_REALM_INSECURE',
      `${registry.host} is spoken to over HTTPS but names the plain-HTTP token realm ${url.origin}; refusing to send ${credential ? 'credentials' : 'a token request'} there in clear text`,
    );
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
  // RFC 6750's b64token is printable ASCII; anything else (CR/LF above all) could split the header it goes into.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ImggateError('HEADER_INVALID', `the token service at ${url.origin} answered a token holding spaces, control or non-ASCII characters, which no Authorization header may carry`);
  }
  // The spec's default lifetime is 60 s; renew a little early.
  const lifetime = Math.max(10, parsed.data.expires_in ?? 60);
  return { token, expiresAt: started + (lifetime - 5) * 1000 };
}
