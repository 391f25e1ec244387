import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { ImggateError, type RegistryErrorCode } from '../errors.js';
import { DigestVerifier, digestOf, parseDigest, verifyBytes } from '../oci/digest.js';
import { MAX_MANIFEST_BYTES } from '../oci/manifest.js';
import { MANIFEST_ACCEPT, MediaType } from '../oci/media-types.js';
import type { Descriptor } from '../oci/schemas.js';
import { parseChallenges, type Challenge } from './auth/challenge.js';
import type { CredentialProvider } from './auth/credentials.js';
import { fetchBearerToken, type BearerToken } from './auth/token.js';
import { readBody, redact, serverUrl, Transport, type HttpResponse } from './http.js';
import { apiHost, isLoopbackHost } from './reference.js';

export interface RegistryClientOptions {
  readonly credentials?: CredentialProvider | undefined;
  /** Speak plain HTTP, or HTTPS without certificate checks (Docker's `insecure-registries`). */
  readonly insecure?: boolean;
  readonly ca?: string | undefined;
  /** Idle socket timeout. */
  readonly timeoutMs?: number;
  /** Total deadline of one request, headers and body (limits.requestTimeout). */
  readonly requestTimeoutMs?: number;
  /** The slowest transfer a blob may take: its deadline grows by its size at this rate (limits.minTransferRate). */
  readonly minBytesPerSecond?: number;
  readonly signal?: AbortSignal | undefined;
  readonly userAgent?: string;
}

/** A manifest as fetched: exact bytes, the digest they hash to, and the type the registry gave. */
export interface FetchedManifest {
  readonly bytes: Buffer;
  readonly digest: string;
  readonly contentType: string | undefined;
  /** The registry's ETag, for conditional updates of a tag (the referrers tag schema). */
  readonly etag?: string | undefined;
}

/** What a manifest PUT answered. */
export interface PushedManifest {
  readonly digest: string;
  /** The `OCI-Subject` header: set when the registry indexed the manifest's subject itself (referrers API). */
  readonly ociSubject: string | undefined;
}

type Action = 'pull' | 'push';

export const DEFAULT_REQUEST_TIMEOUT_MS = 2 * 60_000;
export const DEFAULT_MIN_BYTES_PER_SECOND = 64 * 1024;
type Method = 'GET' | 'HEAD' | 'POST' | 'PUT';

/**
 * A client for one registry host, speaking the OCI distribution API. Every manifest and blob it
 * returns has been checked against the digest it was asked for; a tag is resolved once and its
 * manifest digest computed from the bytes, never taken from a header.
 */
export class RegistryClient {
  readonly registry: string;
  readonly #options: RegistryClientOptions;
  readonly #transport: Transport;
  readonly #tokens = new Map<string, BearerToken>();
  #base: Promise<URL> | undefined;
  #challenge: Challenge | undefined;

  constructor(registry: string, options: RegistryClientOptions = {}) {
    this.registry = registry;
    this.#options = options;
    this.#transport = new Transport({
      insecureTls: options.insecure ?? false,
      ca: options.ca,
      timeoutMs: options.timeoutMs ?? 60_000,
      deadlineMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      userAgent: options.userAgent ?? 'imggate',
    });
  }

  close(): void {
    this.#transport.close();
  }

  /** GET a manifest by tag or digest; the digest is verified when asked by digest, computed otherwise. */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const response = await this.#request('GET', repository, `manifests/${reference}`, 'pull', { accept: MANIFEST_ACCEPT });
    const what = `manifest ${repository}:${reference}`;
    await this.#expectOk(response, what);
    const bytes = await readBody(response.body, MAX_MANIFEST_BYTES, what, 'MANIFEST_TOO_LARGE');
    const contentType = headerValue(response.headers['content-type']);
    const etag = headerValue(response.headers['etag']);
    if (reference.includes(':')) {
      verifyBytes(bytes, { digest: reference }, 'manifest');
      return { bytes, digest: reference, contentType, etag };
    }
    const digest = digestOf(bytes);
    const claimed = headerValue(response.headers['docker-content-digest']);
    if (claimed !== undefined && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new ImggateError('DIGEST_MISMATCH', `${what}: registry says ${claimed} but the bytes hash to ${digest}`);
    }
    return { bytes, digest, contentType, etag };
  }

  /**
   * The OCI 1.1 referrers API: the index of manifests whose subject is `digest`, or undefined when the
   * registry does not implement the API (404), in which case the referrers tag schema applies.
   */
  async getReferrers(repository: string, digest: string, artifactType?: string): Promise<Buffer | undefined> {
    parseDigest(digest);
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const what = `referrers of ${repository}@${digest}`;
    const response = await this.#request('GET', repository, `referrers/${digest}${query}`, 'pull', { accept: MediaType.ociIndex });
    if (response.status === 404) {
      response.body.resume();
      return undefined;
    }
    await this.#expectOk(response, what);
    const contentType = headerValue(response.headers['content-type']) ?? '';
    // A registry without the API may answer its catch-all route with a 200 page that is not an index.
    if (!contentType.startsWith(MediaType.ociIndex)) {
      response.body.resume();
      return undefined;
    }
    return readBody(response.body, MAX_MANIFEST_BYTES, what, 'MANIFEST_TOO_LARGE');
  }

  /** Whether a manifest exists, by HEAD; returns its digest when the registry says. */
  async headManifest(repository: string, reference: string): Promise<string | undefined> {
    const response = await this.#request('HEAD', repository, `manifests/${reference}`, 'pull', { accept: MANIFEST_ACCEPT });
    response.body.resume();
    if (response.status === 404) return undefined;
    await this.#expectOk(response, `manifest ${repository}:${reference}`);
    return headerValue(response.headers['docker-content-digest']) ?? reference;
  }

  /**
   * Opens a blob as a stream that fails unless its bytes match `descriptor` exactly. The caller must
   * consume it to the end before trusting anything read from it.
   */
  async openBlob(repository: string, descriptor: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    parseDigest(descriptor.digest);
    const what = `blob ${descriptor.digest}`;
    // A layer of gigabytes takes longer than a manifest: its deadline grows with its size.
    const base = this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const rate = this.#options.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND;
    const deadlineMs = base + Math.ceil((descriptor.size / rate) * 1000);
    const response = await this.#request('GET', repository, `blobs/${descriptor.digest}`, 'pull', {}, undefined, deadlineMs);
    await this.#expectOk(response, what);
    const declared = Number(response.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared !== descriptor.size) {
      response.body.destroy();
      throw new ImggateError('SIZE_MISMATCH', `${what}: the registry offers ${declared} bytes, the descriptor says ${descriptor.size}`);
    }
    const verifier = new DigestVerifier(descriptor, 'blob');
    pipeline(response.body, verifier, () => {
      // Errors surface on `verifier`, which the caller reads.
    });
    return verifier;
  }

  /** Reads a whole (small) blob into memory, verified. */
  async fetchBlob(repository: string, descriptor: Pick<Descriptor, 'digest' | 'size'>, maxBytes: number): Promise<Buffer> {
    if (descriptor.size > maxBytes) {
      throw new ImggateError('BLOB_TOO_LARGE', `blob ${descriptor.digest} is ${descriptor.size} bytes, over the ${maxBytes}-byte limit`);
    }
    const stream = await this.openBlob(repository, descriptor);
    return readBody(stream, maxBytes, `blob ${descriptor.digest}`);
  }

  async blobExists(repository: string, digest: string): Promise<boolean> {
    const response = await this.#request('HEAD', repository, `blobs/${digest}`, 'pull', {});
    response.body.resume();
    if (response.status === 404) return false;
    await this.#expectOk(response, `blob ${digest}`);
    return true;
  }

  /** All tags of a repository, following `Link` pagination. */
  async listTags(repository: string, pageSize = 1000): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `tags/list?n=${pageSize}`;
    for (let page = 0; next !== undefined && page < 10_000; page++) {
      const response = await this.#request('GET', repository, next, 'pull', {});
      await this.#expectOk(response, `tag list of ${repository}`);
      const body = await readBody(response.body, 16 * 1024 * 1024, `tag list of ${repository}`);
      const json = JSON.parse(body.toString('utf8')) as { tags?: unknown };
      if (json.tags !== null && json.tags !== undefined) {
        if (!Array.isArray(json.tags) || json.tags.some((t) => typeof t !== 'string')) {
          throw new ImggateError('HTTP_ERROR', `tag list of ${repository} is malformed`);
        }
        tags.push(...(json.tags as string[]));
      }
      next = nextLink(headerValue(response.headers['link']), repository);
    }
    return tags;
  }

  /**
   * Every repository the registry's catalog (`/v2/_catalog`) lists, following `Link` pagination. Not
   * every registry offers it (Docker Hub does not), and it lists only what the credentials may see.
   */
  async listRepositories(pageSize = 1000): Promise<string[]> {
    const base = await this.#baseUrl();
    const names: string[] = [];
    let next: URL | undefined = new URL(`/v2/_catalog?n=${pageSize}`, base);
    for (let page = 0; next !== undefined && page < 10_000; page++) {
      const response = await this.#sendScoped('GET', next, 'registry:catalog:*', {});
      await this.#expectOk(response, 'the catalog');
      const body = await readBody(response.body, 16 * 1024 * 1024, 'the catalog');
      let json: { repositories?: unknown };
      try {
        json = JSON.parse(body.toString('utf8')) as { repositories?: unknown };
      } catch (err) {
        throw new ImggateError('HTTP_ERROR', `the catalog of ${this.registry} is not JSON`, { cause: err });
      }
      if (json.repositories !== null && json.repositories !== undefined) {
        if (!Array.isArray(json.repositories) || json.repositories.some((r) => typeof r !== 'string')) {
          throw new ImggateError('HTTP_ERROR', `the catalog of ${this.registry} is malformed`);
        }
        names.push(...(json.repositories as string[]));
      }
      const query = catalogNext(headerValue(response.headers['link']));
      // The next page stays on the catalog of the same origin, whatever the header says.
      next = query === undefined ? undefined : new URL(`/v2/_catalog${query}`, base);
    }
    return names;
  }

  /** Uploads a blob (monolithic), skipping it when the registry has it already. Returns its descriptor. */
  async pushBlob(repository: string, data: Buffer, mediaType: string): Promise<Descriptor> {
    const digest = digestOf(data);
    const descriptor = { mediaType, digest, size: data.length };
    if (await this.blobExists(repository, digest)) return descriptor;
    const start = await this.#request('POST', repository, 'blobs/uploads/', 'push', {});
    start.body.resume();
    if (start.status !== 202) await this.#expectOk(start, `upload of ${digest}`, 202);
    const location = headerValue(start.headers.location);
    if (!location) throw new ImggateError('HTTP_ERROR', `the registry started an upload of ${digest} without a Location`);
    const base = await this.#baseUrl();
    const url = serverUrl(location, base, `the upload location of ${digest}`);
    if (url.origin !== base.origin) throw new ImggateError('HTTP_ERROR', `the registry sent the upload of ${digest} to another origin`);
    url.searchParams.set('digest', digest);
    const put = await this.#send('PUT', url, repository, 'push', {
      'content-type': 'application/octet-stream',
    }, data);
    put.body.resume();
    await this.#expectOk(put, `upload of ${digest}`, 201);
    return descriptor;
  }

  /** PUTs a manifest under a tag or its digest; returns the digest of the bytes. */
  async pushManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    return (await this.putManifest(repository, reference, bytes, mediaType)).digest;
  }

  /**
   * PUTs a manifest and says whether the registry indexed its subject. `ifMatch` makes the update
   * conditional where the registry honours it (412 becomes PRECONDITION_FAILED); others ignore it.
   */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string, ifMatch?: string): Promise<PushedManifest> {
    const headers: Record<string, string> = { 'content-type': mediaType };
    if (ifMatch) headers['if-match'] = ifMatch;
    const response = await this.#request('PUT', repository, `manifests/${reference}`, 'push', headers, bytes);
    if (response.status === 412) {
      response.body.resume();
      throw new ImggateError('PRECONDITION_FAILED', `manifest ${repository}:${reference} changed since it was read`);
    }
    response.body.resume();
    await this.#expectOk(response, `manifest ${repository}:${reference}`, 201);
    return { digest: digestOf(bytes), ociSubject: headerValue(response.headers['oci-subject']) };
  }

  async #request(
    method: Method,
    repository: string,
    path: string,
    action: Action,
    headers: Record<string, string>,
    body?: Buffer,
    deadlineMs?: number,
  ): Promise<HttpResponse> {
    const base = await this.#baseUrl();
    return this.#send(method, new URL(`/v2/${repository}/${path}`, base), repository, action, headers, body, deadlineMs);
  }

  async #send(
    method: Method,
    url: URL,
    repository: string,
    action: Action,
    headers: Record<string, string>,
    body?: Buffer,
    deadlineMs?: number,
  ): Promise<HttpResponse> {
    return this.#sendScoped(method, url, `repository:${repository}:${action === 'push' ? 'pull,push' : 'pull'}`, headers, body, deadlineMs);
  }

  async #sendScoped(method: Method, url: URL, scope: string, headers: Record<string, string>, body?: Buffer, deadlineMs?: number): Promise<HttpResponse> {
    const attempt = async (): Promise<HttpResponse> => {
      const authorization = await this.#authorization(scope, false);
      return this.#transport.send({
        method,
        url,
        headers: { ...headers, ...(authorization ? { authorization } : {}) },
        body,
        signal: this.#options.signal,
        deadlineMs,
      });
    };
    let response = await this.#retrying(method, attempt);
    if (response.status === 401) {
      response.body.resume();
      const challenge = parseChallenges(response.headers['www-authenticate'])[0];
      if (challenge) this.#challenge = challenge;
      this.#tokens.delete(scope);
      const authorization = await this.#authorization(scope, true);
      if (authorization === undefined) {
        throw new ImggateError('AUTH_FAILED', `${this.registry} requires authentication and no credentials are configured for it`);
      }
      response = await this.#transport.send({
        method,
        url,
        headers: { ...headers, authorization },
        body,
        signal: this.#options.signal,
        deadlineMs,
      });
      if (response.status === 401) {
        response.body.resume();
        throw new ImggateError('AUTH_FAILED', `${this.registry} refused the credentials for ${scope}`);
      }
    }
    return response;
  }

  /** Idempotent reads are retried on network errors and 429/5xx, twice, with a short backoff. */
  async #retrying(method: string, attempt: () => Promise<HttpResponse>): Promise<HttpResponse> {
    const retries = method === 'GET' || method === 'HEAD' ? 2 : 0;
    for (let i = 0; ; i++) {
      try {
        const response = await attempt();
        if (i < retries && (response.status === 429 || response.status >= 500)) {
          response.body.resume();
          await delay(200 * 2 ** i);
          continue;
        }
        return response;
      } catch (err) {
        if (i >= retries || !(err instanceof ImggateError) || err.code !== 'NETWORK') throw err;
        await delay(200 * 2 ** i);
      }
    }
  }

  async #authorization(scope: string, force: boolean): Promise<string | undefined> {
    const challenge = this.#challenge;
    if (!challenge) return undefined;
    const credential = await this.#options.credentials?.get(this.registry);
    if (challenge.scheme === 'basic') {
      if (!credential) return undefined;
      const password = credential.kind === 'basic' ? credential.password : credential.token;
      return `Basic ${Buffer.from(`${credential.username}:${password}`).toString('base64')}`;
    }
    if (challenge.scheme !== 'bearer') {
      if (!force) return undefined;
      throw new ImggateError('AUTH_FAILED', `${this.registry} asks for unsupported authentication scheme "${challenge.scheme}"`);
    }
    const cached = this.#tokens.get(scope);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    const token = await fetchBearerToken(this.#transport, challenge, [scope], credential, this.#options.signal, await this.#baseUrl());
    this.#tokens.set(scope, token);
    return `Bearer ${token.token}`;
  }

  /** Finds the scheme once (`GET /v2/`), the way Docker does, and remembers the auth challenge. */
  #baseUrl(): Promise<URL> {
    this.#base ??= this.#ping();
    return this.#base;
  }

  async #ping(): Promise<URL> {
    const host = apiHost(this.registry);
    const candidates = isLoopbackHost(host)
      ? [`http://${host}`]
      : this.#options.insecure
        ? [`https://${host}`, `http://${host}`]
        : [`https://${host}`];
    let lastError: unknown;
    for (const candidate of candidates) {
      const base = new URL(candidate);
      try {
        const response = await this.#retrying('GET', () =>
          this.#transport.send({ method: 'GET', url: new URL('/v2/', base), signal: this.#options.signal }),
        );
        response.body.resume();
        if (response.status === 401) this.#challenge = parseChallenges(response.headers['www-authenticate'])[0];
        return base;
      } catch (err) {
        lastError = err;
      }
    }
    this.#base = undefined;
    throw lastError instanceof ImggateError
      ? lastError
      : new ImggateError('NETWORK', `cannot reach ${this.registry}`, { cause: lastError });
  }

  async #expectOk(response: HttpResponse, what: string, expected = 200): Promise<void> {
    if (response.status === expected || (expected === 200 && response.status >= 200 && response.status < 300)) return;
    let detail = '';
    try {
      const body = await readBody(response.body, 64 * 1024, 'error body');
      const json = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> };
      detail = (json.errors ?? []).slice(0, 5).map((e) => `${String(e.code ?? '')}${e.message ? `: ${String(e.message)}` : ''}`).join('; ');
      // The registry's words are quoted, not trusted: bounded here, escaped where they are printed.
      if (detail.length > 500) detail = `${detail.slice(0, 499)}…`;
    } catch {
      response.body.destroy();
    }
    let code: RegistryErrorCode = 'HTTP_ERROR';
    if (response.status === 404) code = 'NOT_FOUND';
    if (response.status === 401 || response.status === 403) code = 'AUTH_FAILED';
    throw new ImggateError(code, `${what} on ${this.registry}: HTTP ${response.status} from ${redact(response.url)}${detail ? ` (${detail})` : ''}`);
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The next page from an RFC 8288 `Link: <...>; rel="next"` header, relative to the repository. */
/** The query of the catalog's next page, from its `Link` header; undefined at the end or for any other path. */
function catalogNext(link: string | undefined): string | undefined {
  if (!link) return undefined;
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  if (!match?.[1]) return undefined;
  const url = serverUrl(match[1], new URL('http://placeholder'), `the catalog's next page`);
  return url.pathname === '/v2/_catalog' && url.search ? url.search : undefined;
}

function nextLink(link: string | undefined, repository: string): string | undefined {
  if (!link) return undefined;
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  if (!match?.[1]) return undefined;
  const url = serverUrl(match[1], new URL('http://placeholder'), `the tag list's next page`);
  const prefix = `/v2/${repository}/`;
  if (!url.pathname.startsWith(prefix)) return undefined;
  return `${url.pathname.slice(prefix.length)}${url.search}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
