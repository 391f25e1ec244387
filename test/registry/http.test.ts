import assert from 'node:assert/strict';
import http from 'node:http';
import { Transport } from '../../src/registry/http.js';

async function serve(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, close: () => new Promise((r) => server.close(() => r())) };
}

describe('Transport redirects', function () {
  it('never forwards Authorization to another origin, keeps it on the same origin', async function () {
    const seen: Array<string | undefined> = [];
    const cdn = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.end('blob');
    });
    const registry = await serve((req, res) => {
      if (req.url === '/same') {
        res.writeHead(307, { location: '/final' }).end();
      } else if (req.url === '/final') {
        seen.push(req.headers.authorization);
        res.end('same');
      } else {
        res.writeHead(307, { location: `${cdn.url}/blob?sig=abc` }).end();
      }
    });
    const transport = new Transport();
    try {
      const cross = await transport.send({ method: 'GET', url: new URL(`${registry.url}/v2/x/blobs/sha256:1`), headers: { authorization: 'Bearer secret' } });
      cross.body.resume();
      const same = await transport.send({ method: 'GET', url: new URL(`${registry.url}/same`), headers: { authorization: 'Bearer secret' } });
      same.body.resume();
      assert.deepEqual(seen, [undefined, 'Bearer secret']);
    } finally {
      transport.close();
      await cdn.close();
      await registry.close();
    }
  });

  it('stops after too many redirects', async function () {
    const loop = await serve((_req, res) => res.writeHead(302, { location: '/again' }).end());
    const transport = new Transport({ maxRedirects: 3 });
    try {
      await assert.rejects(transport.send({ method: 'GET', url: new URL(`${loop.url}/x`) }), { code: 'TOO_MANY_REDIRECTS' });
    } finally {
      transport.close();
      await loop.close();
    }
  });
});
