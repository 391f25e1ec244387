import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ThrottleProxy {
  /** `127.0.0.1:PORT`: a registry host in its own right (events and pulls name it). */
  readonly host: string;
  /** Bytes of throttled blob bodies sent so far, per request, in order. */
  readonly blobReads: number[];
  stop(): Promise<void>;
}

/**
 * A plain HTTP forwarder to the real registry that trickles blob GETs at `bytesPerSecond`, so a test can
 * kill the gate while a layer is mid-stream. Everything else passes through untouched. (Written here
 * because no throttling proxy ships with Debian that the tests could drive this precisely.)
 */
export async function startThrottleProxy(upstream: string, bytesPerSecond: number): Promise<ThrottleProxy> {
  const blobReads: number[] = [];
  const server = http.createServer((req, res) => {
    const up = http.request({ host: upstream.split(':')[0], port: Number(upstream.split(':')[1]), method: req.method, path: req.url, headers: { ...req.headers, host: req.headers.host } }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      const throttled = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '') && (upRes.statusCode ?? 0) < 300;
      if (!throttled) {
        upRes.pipe(res);
        return;
      }
      const index = blobReads.push(0) - 1;
      const chunk = Math.max(1, Math.floor(bytesPerSecond / 10));
      let pending = Buffer.alloc(0);
      let ended = false;
      const timer = setInterval(() => {
        if (pending.length) {
          const part = pending.subarray(0, chunk);
          pending = pending.subarray(part.length);
          blobReads[index] = (blobReads[index] ?? 0) + part.length;
          res.write(part);
        }
        if (!pending.length && ended) {
          clearInterval(timer);
          res.end();
        }
        upRes.resume();
      }, 100);
      upRes.on('data', (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        if (pending.length > 4 * chunk) upRes.pause();
      });
      upRes.on('end', () => (ended = true));
      res.on('close', () => {
        clearInterval(timer);
        upRes.destroy();
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    blobReads,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
