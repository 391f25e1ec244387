import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { ImggateError } from '../errors.js';

export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: http.IncomingMessage;
  /** Where the response finally came from, after redirects. */
  readonly url: URL;
}

export interface TransportOptions {
  /** Accept any TLS certificate: only for hosts the user named insecure. */
  readonly insecureTls?: boolean;
  /** Extra CA certificates (PEM) to trust for this registry. */
  readonly ca?: string | undefined;
  /** Idle socket timeout. */
  readonly timeoutMs?: number;
  readonly maxRedirects?: number;
  readonly userAgent?: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The raw tier: one HTTP exchange per call, redirects followed by hand so that credentials never
 * travel to another origin (a blob redirect to a CDN must not carry the registry's token).
 */
export class Transport {
  readonly #httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  readonly #httpsAgent: https.Agent;
  readonly #options: TransportOptions;

  constructor(options: TransportOptions = {}) {
    this.#options = options;
    this.#httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 8,
      rejectUnauthorized: !options.insecureTls,
      ...(options.ca ? { ca: options.ca } : {}),
    });
  }

  async send(request: HttpRequest): Promise<HttpResponse> {
    let current = request;
    const origin = request.url.origin;
    const maxRedirects = this.#options.maxRedirects ?? 5;
    for (let hop = 0; ; hop++) {
      const response = await this.#once(current);
      const location = response.headers.location;
      if (!REDIRECTS.has(response.status) || location === undefined) return response;
      response.body.resume();
      if (hop >= maxRedirects) {
        throw new ImggateError('TOO_MANY_REDIRECTS', `${request.method} ${redact(request.url)}: more than ${maxRedirects} redirects`);
      }
      const next = new URL(location, current.url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new ImggateError('HTTP_ERROR', `refusing redirect to ${next.protocol} URL`);
      }
      if (current.url.protocol === 'https:' && next.protocol === 'http:') {
        throw new ImggateError('HTTP_ERROR', `refusing redirect from HTTPS to plain HTTP (${redact(next)})`);
      }
      const headers: Record<string, string> = { ...(current.headers ?? {}) };
      if (next.origin !== origin) {
        delete headers['authorization'];
        delete headers['Authorization'];
      }
      const method = response.status === 303 ? 'GET' : current.method;
      current = { method, url: next, headers, body: method === 'GET' || method === 'HEAD' ? undefined : current.body, signal: current.signal };
    }
  }

  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  #once(request: HttpRequest): Promise<HttpResponse> {
    const { url } = request;
    const isHttps = url.protocol === 'https:';
    const lib = isHttps ? https : http;
    const headers: Record<string, string> = {
      'user-agent': this.#options.userAgent ?? 'imggate',
      ...(request.headers ?? {}),
    };
    if (request.body) headers['content-length'] = String(request.body.length);
    return new Promise<HttpResponse>((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method: request.method,
          headers,
          agent: isHttps ? this.#httpsAgent : this.#httpAgent,
          timeout: this.#options.timeoutMs ?? 60_000,
          ...(request.signal ? { signal: request.signal } : {}),
        },
        (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url }),
      );
      req.on('timeout', () => {
        req.destroy(new ImggateError('TIMEOUT', `${request.method} ${redact(url)}: no answer for ${this.#options.timeoutMs ?? 60_000} ms`));
      });
      req.on('error', (err) => {
        if (err instanceof ImggateError) reject(err);
        else if (err.name === 'AbortError') reject(new ImggateError('TIMEOUT', `${request.method} ${redact(url)}: aborted`, { cause: err }));
        else reject(new ImggateError('NETWORK', `${request.method} ${redact(url)}: ${err.message}`, { cause: err }));
      });
      req.end(request.body);
    });
  }
}

/**
 * Reads a whole response body, refusing more than `maxBytes` (checked against Content-Length first,
 * then while reading, since a hostile server may lie about or omit it).
 */
export async function readBody(
  body: Readable & { headers?: http.IncomingHttpHeaders },
  maxBytes: number,
  what: string,
  code: 'MANIFEST_TOO_LARGE' | 'BLOB_TOO_LARGE' = 'BLOB_TOO_LARGE',
): Promise<Buffer> {
  const declared = Number(body.headers?.['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    body.destroy();
    throw new ImggateError(code, `${what} is ${declared} bytes, over the ${maxBytes}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > maxBytes) {
      body.destroy();
      throw new ImggateError(code, `${what} is over the ${maxBytes}-byte limit`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}

/** A URL without its query string, which may hold signed tokens. */
export function redact(url: URL): string {
  return `${url.origin}${url.pathname}${url.search ? '?…' : ''}`;
}
