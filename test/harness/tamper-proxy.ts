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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { host: `127.0.0.1:${port}`, stop: () => new Promise((resolve) => server.close(() => resolve())) };
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
