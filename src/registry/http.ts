import type http from 'node:http';
import https from 'node:https';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { ImggateError } from '../errors.js';

// node:http as CommonJS has it: imported as an ES module, Node 22 and 24 build its module facade by
// reading every export, undici's lazy WebSocket among them (about 20 ms of each thread's start).
const nodeHttp = process.getBuiltinModule('node:http');

export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | undefined;
  readonly signal?: AbortSignal | undefined;
  /** This exchange's total deadline, when it should differ from the transport's (a large blob). */
  readonly deadlineMs?: number | undefined;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The body; it fails with a typed error when cut short, past the deadline or on a network error. */
  readonly body: ResponseBody;
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
  /**
   * Total time one exchange may take, redirects, headers and body included. The idle timer alone
   * never fires against a server that sends one byte a second, or 1xx answers forever.
   */
  readonly deadlineMs?: number;
  readonly maxRedirects?: number;
  readonly userAgent?: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const DEFAULT_DEADLINE_MS = 10 * 60_000;
/** 1xx answers before the final one: servers send one or two (100 Continue, 103 Early Hints). */
const MAX_INFORMATIONAL = 16;

/**
 * The raw tier: one HTTP exchange per call, redirects followed by hand so that credentials never
 * travel to another origin (a blob redirect to a CDN must not carry the registry's token).
 */
export class Transport {
  readonly #httpAgent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 8 });
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
    const deadline = new Deadline(request.deadlineMs ?? this.#options.deadlineMs ?? DEFAULT_DEADLINE_MS, `${request.method} ${redact(request.url)}`);
    for (let hop = 0; ; hop++) {
      const response = await this.#once(current, deadline);
      const location = response.headers.location;
      if (!REDIRECTS.has(response.status) || location === undefined) return response;
      response.body.resume();
      if (hop >= maxRedirects) {
        deadline.clear();
        throw new ImggateError('TOO_MANY_REDIRECTS', `${request.method} ${redact(request.url)}: more than ${maxRedirects} redirects`);
      }
      const next = serverUrl(location, current.url, `${request.method} ${redact(request.url)}: the redirect`, deadline);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        deadline.clear();
        throw new ImggateError('HTTP_ERROR', `refusing redirect to ${next.protocol} URL`);
      }
      if (current.url.protocol === 'https:' && next.protocol === 'http:') {
        deadline.clear();
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

  #once(request: HttpRequest, deadline: Deadline): Promise<HttpResponse> {
    const { url } = request;
    const what = `${request.method} ${redact(url)}`;
    const isHttps = url.protocol === 'https:';
    const lib = isHttps ? https : nodeHttp;
    const headers: Record<string, string> = {
      'user-agent': this.#options.userAgent ?? 'imggate',
      ...(request.headers ?? {}),
    };
    if (request.body) headers['content-length'] = String(request.body.length);
    for (const [name, value] of Object.entries(headers)) {
      try {
        nodeHttp.validateHeaderValue(name, value);
      } catch (err) {
        deadline.clear();
        // The value may be a token or a password: name the header, never show it.
        return Promise.reject(new ImggateError('HEADER_INVALID', `${what}: the ${name} header holds CR, LF or another character HTTP forbids; not sent`, { cause: err }));
      }
    }
    if (url.port === '0') {
      deadline.clear();
      return Promise.reject(new ImggateError('URL_INVALID', `${what}: port 0 is not a port to connect to`));
    }
    const idleMs = this.#options.timeoutMs ?? 60_000;
    return new Promise<HttpResponse>((resolve, reject) => {
      let req: http.ClientRequest;
      try {
        req = lib.request(url, {
          method: request.method,
          headers,
          agent: isHttps ? this.#httpsAgent : this.#httpAgent,
          timeout: idleMs,
          ...(request.signal ? { signal: request.signal } : {}),
        });
      } catch (err) {
        deadline.clear();
        reject(new ImggateError('URL_INVALID', `${what}: ${(err as Error).message}`, { cause: err }));
        return;
      }
      let body: ResponseBody | undefined;
      const hop = deadline.onExpire((err) => {
        req.destroy(err);
        body?.destroy(err);
      });
      let informational = 0;
      req.on('information', () => {
        if (++informational > MAX_INFORMATIONAL) {
          req.destroy(new ImggateError('PROTOCOL_ERROR', `${what}: the server sent more than ${MAX_INFORMATIONAL} interim (1xx) answers and no final one`));
        }
      });
      req.on('response', (res) => {
        body = new ResponseBody(res, what, deadline, hop);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, url });
      });
      req.on('timeout', () => {
        req.destroy(new ImggateError('TIMEOUT', `${what}: no answer for ${idleMs} ms`));
      });
      req.on('error', (err) => {
        const typed = asTransportError(err, what, request.signal);
        if (body) body.destroy(typed);
        else {
          deadline.clear();
          reject(typed);
        }
      });
      req.end(request.body);
    });
  }
}

/** One timer for an exchange and its redirects; it fires once, failing whatever is still open. */
class Deadline {
  readonly #ms: number;
  readonly #what: string;
  readonly #timer: NodeJS.Timeout;
  #expired: ImggateError | undefined;
  #listener: ((err: ImggateError) => void) | undefined;
  #hop = 0;

  constructor(ms: number, what: string) {
    this.#ms = ms;
    this.#what = what;
    this.#timer = setTimeout(() => this.#expire(), ms);
    // A pending deadline must not keep a finished CLI alive.
    this.#timer.unref();
  }

  get error(): ImggateError | undefined {
    return this.#expired;
  }

  /** The one listener now concerned (the current hop); replaces the previous hop's. Returns the hop. */
  onExpire(listener: (err: ImggateError) => void): number {
    this.#listener = listener;
    this.#hop++;
    if (this.#expired) listener(this.#expired);
    return this.#hop;
  }

  clear(): void {
    clearTimeout(this.#timer);
  }

  /** Clears the timer when `hop` is the last one: a redirect's drained body must not end the deadline. */
  clearFor(hop: number): void {
    if (hop === this.#hop) this.clear();
  }

  #expire(): void {
    this.#expired = new ImggateError('REQUEST_DEADLINE', `${this.#what}: not complete after ${this.#ms} ms, the deadline of one request (limits.requestTimeout)`);
    this.#listener?.(this.#expired);
  }
}

/**
 * A response body that ends in a typed error: BODY_TRUNCATED when the connection closes before the
 * announced length (or the last chunk) arrived, REQUEST_DEADLINE when the exchange outlives its
 * deadline. Node itself reports both as a bare "aborted".
 */
export class ResponseBody extends Transform {
  readonly headers: http.IncomingHttpHeaders;
  readonly #source: http.IncomingMessage;
  #received = 0;

  constructor(source: http.IncomingMessage, what: string, deadline: Deadline, hop: number) {
    super({ readableHighWaterMark: 1024 * 1024 });
    this.#source = source;
    this.headers = source.headers;
    const truncated = (cause?: unknown): ImggateError => {
      const declared = source.headers['content-length'];
      return new ImggateError(
        'BODY_TRUNCATED',
        `${what}: the connection closed after ${this.#received}${declared !== undefined ? ` of ${declared}` : ''} bytes of the body${declared === undefined ? ' (before its last chunk)' : ''}`,
        cause === undefined ? undefined : { cause },
      );
    };
    source.on('error', (err) => {
      if (deadline.error) this.destroy(deadline.error);
      else if (err instanceof ImggateError) this.destroy(err);
      else if (!source.complete) this.destroy(truncated(err));
      else this.destroy(new ImggateError('NETWORK', `${what}: ${err.message}`, { cause: err }));
    });
    source.on('close', () => {
      if (!source.complete && !this.destroyed) this.destroy(deadline.error ?? truncated());
    });
    this.on('close', () => deadline.clearFor(hop));
    source.pipe(this);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.#received += chunk.length;
    callback(null, chunk);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#source.destroyed) this.#source.destroy();
    callback(err);
  }
}

function asTransportError(err: Error, what: string, signal: AbortSignal | undefined): ImggateError {
  if (err instanceof ImggateError) return err;
  if (err.name === 'AbortError') {
    const reason: unknown = signal?.reason;
    const why = reason instanceof Error && reason.name === 'TimeoutError' ? "the check's deadline (limits.timeout) passed" : 'the check was cancelled';
    return new ImggateError('TIMEOUT', `${what}: stopped, ${why}`, { cause: err });
  }
  if ((err as NodeJS.ErrnoException).code === 'HPE_INVALID_HEADER_TOKEN' || /^Parse Error/.test(err.message)) {
    return new ImggateError('PROTOCOL_ERROR', `${what}: the server's answer is not valid HTTP (${err.message})`, { cause: err });
  }
  return new ImggateError('NETWORK', `${what}: ${err.message}`, { cause: err });
}

/**
 * A URL a server named (redirect, realm, upload location), resolved against `base`; a URL that does
 * not parse or names port 0 is the server's error, said as such.
 */
export function serverUrl(text: string, base: URL | undefined, what: string, deadline?: { clear(): void }): URL {
  let url: URL;
  try {
    url = new URL(text, base);
  } catch (err) {
    deadline?.clear();
    const port = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*:([0-9]+)/i.exec(text)?.[1];
    const why = port !== undefined && Number(port) > 65535 ? `its port ${port} is out of range (1-65535)` : 'it is not a valid URL';
    throw new ImggateError('URL_INVALID', `${what} names ${JSON.stringify(text.slice(0, 200))}, but ${why}`, { cause: err });
  }
  if (url.port === '0') {
    deadline?.clear();
    throw new ImggateError('URL_INVALID', `${what} names port 0`);
  }
  return url;
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
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      total += buf.length;
      if (total > maxBytes) {
        body.destroy();
        throw new ImggateError(code, `${what} is over the ${maxBytes}-byte limit`);
      }
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof ImggateError) throw err;
    throw new ImggateError('NETWORK', `${what}: ${(err as Error).message}`, { cause: err });
  }
  return Buffer.concat(chunks, total);
}

/** A URL without its query string, which may hold signed tokens. */
export function redact(url: URL): string {
  return `${url.origin}${url.pathname}${url.search ? '?…' : ''}`;
}
