import http from 'node:http';

export interface TamperProxy {
  readonly host: string;
  stop(): Promise<void>;
}

/**
 * A reverse proxy in front of a registry that flips one byte in the bodies of GET responses whose
 * path `shouldTamper` picks, keeping the length: what a compromised mirror or a bad cache would serve.
 */
export async function startTamperProxy(upstream: string, shouldTamper: (path: string) => boolean, options: { refuseWrites?: boolean } = {}): Promise<TamperProxy> {
  const server = http.createServer((req, res) => {
    if (options.refuseWrites && req.method !== 'GET' && req.method !== 'HEAD') {
      // What a registry answers a token or robot account that may pull but not push.
      req.resume();
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] }));
      return;
    }
    const forward = http.request(
      { host: upstream.split(':')[0], port: Number(upstream.split(':')[1]), path: req.url, method: req.method, headers: { ...req.headers, host: upstream } },
      (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (d: Buffer) => chunks.push(d));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          if (req.method === 'GET' && up.statusCode === 200 && shouldTamper(req.url ?? '') && body.length > 0) {
            const at = Math.floor(body.length / 2);
            body[at] = (body[at] ?? 0) ^ 0x01;
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(body);
        });
      },
    );
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  return listen(server);
}

/** A proxy in front of a registry that notes the digest of every blob fetched through it, in order. */
export async function startBlobCounter(upstream: string): Promise<TamperProxy & { readonly blobs: string[] }> {
  const blobs: string[] = [];
  const proxy = await startTamperProxy(upstream, (url) => {
    if (url.includes('/blobs/')) blobs.push(url.slice(url.lastIndexOf('/') + 1));
    return false;
  });
  return { ...proxy, blobs };
}

/**
 * A registry that answers every manifest request with what `answer` gives: the hostile server the
 * real registry cannot be made to be (it refuses to store oversized or malformed manifests).
 */
export async function startHostileRegistry(answer: () => { body: Buffer; contentType?: string; chunked?: boolean }): Promise<TamperProxy> {
  const server = http.createServer((req, res) => {
    if (req.url === '/v2/') {
      res.writeHead(200).end('{}');
      return;
    }
    const { body, contentType, chunked } = answer();
    const headers: http.OutgoingHttpHeaders = { 'content-type': contentType ?? 'application/vnd.oci.image.manifest.v1+json' };
    if (!chunked) headers['content-length'] = body.length;
    res.writeHead(200, headers);
    res.end(body);
  });
  return listen(server);
}

/**
 * The real registry in front, plus the OCI 1.1 referrers API it lacks (distribution 2.8 has none, and
 * no registry that has one is packaged for Debian): manifests pushed through it with a `subject` are
 * indexed here, answered with `OCI-Subject`, and listed by `GET /v2/<name>/referrers/<digest>`. A fake
 * for the API only; every byte is still stored in and served by the real registry.
 */
export async function startReferrersApiProxy(upstream: string): Promise<TamperProxy & { readonly indexed: () => number }> {
  const referrers = new Map<string, Array<Record<string, unknown>>>();
  const [uhost, uport] = upstream.split(':');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const listing = /^\/v2\/(.+)\/referrers\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    if (listing && req.method === 'GET') {
      const type = url.searchParams.get('artifactType');
      const all = referrers.get(`${listing[1]}@${listing[2]}`) ?? [];
      const manifests = type ? all.filter((d) => d['artifactType'] === type) : all;
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', ...(type ? { 'oci-filters-applied': 'artifactType' } : {}) });
      res.end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      // The client's Host header goes through, so the registry builds upload Locations on the proxy's origin.
      const forward = http.request({ host: uhost, port: Number(uport), path: req.url, method: req.method, headers: req.headers }, (up) => {
        const headers = { ...up.headers };
        const put = /^\/v2\/(.+)\/manifests\/[^/]+$/.exec(url.pathname);
        if (put && req.method === 'PUT' && up.statusCode === 201) {
          const manifest = JSON.parse(body.toString()) as { subject?: { digest: string }; artifactType?: string; config?: { mediaType: string }; annotations?: Record<string, string>; mediaType?: string };
          if (manifest.subject) {
            const key = `${put[1]}@${manifest.subject.digest}`;
            const list = referrers.get(key) ?? [];
            list.push({
              mediaType: manifest.mediaType ?? req.headers['content-type'],
              digest: up.headers['docker-content-digest'],
              size: body.length,
              artifactType: manifest.artifactType ?? manifest.config?.mediaType,
              ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
            });
            referrers.set(key, list);
            headers['oci-subject'] = manifest.subject.digest;
          }
        }
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      });
      forward.on('error', () => res.writeHead(502).end());
      forward.end(body);
    });
  });
  return { ...(await listen(server)), indexed: () => [...referrers.values()].reduce((n, l) => n + l.length, 0) };
}

/** Listens on a free loopback port; `stop` drops open connections and closes. */
async function listen(server: http.Server): Promise<TamperProxy> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
