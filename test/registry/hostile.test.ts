import assert from 'node:assert/strict';
import type net from 'node:net';
import { fetchBearerToken } from '../../src/registry/auth/token.js';
import { RegistryClient } from '../../src/registry/client.js';
import { readBody, Transport } from '../../src/registry/http.js';
import { repeat, startRawServer, trickle, type RawServer } from '../harness/hostile-server.js';

/**
 * Misbehaving registries and token servers on loopback, each ending in its own typed error. The
 * deadlines here are short (1.5 s) and the margins generous (15 s): the servers would go on forever,
 * so finishing at all is what is tested; no speed is asserted.
 */
const DEADLINE = 1500;
const MARGIN = 15_000;

async function withServer<T>(answer: (socket: net.Socket, head: string) => void, fn: (server: RawServer) => Promise<T>): Promise<T> {
  const server = await startRawServer(answer);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** GETs `path` and reads the whole body, as the client reads manifests and tokens. */
async function getBody(server: RawServer, transport: Transport, path = '/v2/'): Promise<Buffer> {
  const response = await transport.send({ method: 'GET', url: new URL(path, server.url) });
  return readBody(response.body, 64 * 1024 * 1024, 'the body');
}

async function rejectsWithin(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const started = Date.now();
  await assert.rejects(promise, (err: Error & { code?: string }) => {
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
  assert.ok(Date.now() - started < DEADLINE + MARGIN, 'ended, long before the server would have');
}

describe('requests against hostile servers', function () {
  this.timeout(60_000);
  // The idle timer (5 s) never fires in these cases: each server sends something every 200 ms or less.
  const transport = (): Transport => new Transport({ timeoutMs: 5000, deadlineMs: DEADLINE });

  const cases: Array<{ name: string; answer: (socket: net.Socket) => void; code: string; message: RegExp }> = [
    {
      name: 'headers one byte at a time (slowloris)',
      answer: (s) => trickle(s, 'HTTP/1.1 200 OK\r\nX-Slow: ' + 'a'.repeat(10_000), 100),
      code: 'REQUEST_DEADLINE',
      message: /not complete after 1500 ms.*limits\.requestTimeout/,
    },
    {
      name: 'a body one byte at a time',
      answer: (s) => {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n');
        trickle(s, '{', 100);
      },
      code: 'REQUEST_DEADLINE',
      message: /not complete after 1500 ms/,
    },
    {
      name: 'a chunked body that never ends',
      answer: (s) => {
        s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        repeat(s, '2\r\nab\r\n', 50);
      },
      code: 'REQUEST_DEADLINE',
      message: /not complete after 1500 ms/,
    },
    {
      name: '102 Processing, slowly, forever',
      answer: (s) => repeat(s, 'HTTP/1.1 102 Processing\r\n\r\n', 200),
      code: 'REQUEST_DEADLINE',
      message: /not complete after 1500 ms/,
    },
    {
      name: '102 Processing, fast, forever',
      answer: (s) => repeat(s, 'HTTP/1.1 102 Processing\r\n\r\n', 5),
      code: 'PROTOCOL_ERROR',
      message: /more than 16 interim \(1xx\) answers/,
    },
    {
      name: 'a body cut short of its Content-Length',
      answer: (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' + 'x'.repeat(500)),
      code: 'BODY_TRUNCATED',
      message: /closed after 500 of 1000 bytes/,
    },
    {
      name: 'a chunked body closed before its last chunk',
      answer: (s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'),
      code: 'BODY_TRUNCATED',
      message: /closed after 5 bytes of the body \(before its last chunk\)/,
    },
    {
      name: 'a redirect to an out-of-range port',
      answer: (s) => s.end('HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:99999/v2/\r\nContent-Length: 0\r\n\r\n'),
      code: 'URL_INVALID',
      message: /port 99999 is out of range/,
    },
    {
      name: 'a redirect to port 0',
      answer: (s) => s.end('HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:0/v2/\r\nContent-Length: 0\r\n\r\n'),
      code: 'URL_INVALID',
      message: /port 0/,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code}`, async function () {
      await withServer(c.answer, async (server) => {
        const t = transport();
        try {
          await rejectsWithin(getBody(server, t), c.code, c.message);
        } finally {
          t.close();
        }
      });
    });
  }

  it('refuses to send a header value holding CR/LF, and does not print it', async function () {
    await withServer((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), async (server) => {
      const t = transport();
      try {
        const sending = t.send({ method: 'GET', url: new URL('/v2/', server.url), headers: { authorization: 'Bearer s3cret\r\nX-Injected: 1' } });
        await assert.rejects(sending, (err: Error & { code?: string }) => {
          assert.equal(err.code, 'HEADER_INVALID');
          assert.match(err.message, /authorization header holds CR, LF/);
          assert.doesNotMatch(err.message, /s3cret/);
          return true;
        });
        assert.equal(server.requests.length, 0, 'nothing was sent');
      } finally {
        t.close();
      }
    });
  });

  it('refuses a token with CR/LF from the token service', async function () {
    const body = JSON.stringify({ token: 'abc\r\nX-Injected: 1' });
    await withServer((s) => s.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`), async (server) => {
      const t = transport();
      try {
        const challenge = { scheme: 'bearer', params: { realm: `${server.url}/token`, service: 'x' } };
        await assert.rejects(fetchBearerToken(t, challenge, ['repository:a:pull'], undefined, undefined), { code: 'HEADER_INVALID' });
      } finally {
        t.close();
      }
    });
  });

  it('ends a token endpoint that answers one byte at a time', async function () {
    await withServer((s) => trickle(s, 'HTTP/1.1 200 OK\r\nX-Slow: ' + 'a'.repeat(10_000), 100), async (server) => {
      const t = transport();
      try {
        const challenge = { scheme: 'bearer', params: { realm: `${server.url}/token` } };
        await rejectsWithin(fetchBearerToken(t, challenge, ['repository:a:pull'], { kind: 'basic', username: 'u', password: 'p' }, undefined), 'REQUEST_DEADLINE', /\/token\?…: not complete/);
      } finally {
        t.close();
      }
    });
  });

  it('gives a registry blob its own deadline through the client, grown by its size', async function () {
    // /v2/ answers at once; the blob trickles. With 1 MB/s as the slowest rate, 10 bytes add nothing.
    const digest = `sha256:${'0'.repeat(64)}`;
    await withServer((s, head) => {
      if (head.startsWith('GET /v2/ ')) s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      else {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n');
        trickle(s, 'x', 400);
      }
    }, async (server) => {
      const client = new RegistryClient(`127.0.0.1:${server.port}`, { requestTimeoutMs: DEADLINE, minBytesPerSecond: 1024 * 1024, timeoutMs: 5000 });
      try {
        const stream = await client.openBlob('app', { digest, size: 10 });
        const reading = (async () => {
          for await (const _ of stream) void _;
        })();
        await rejectsWithin(reading, 'REQUEST_DEADLINE', /blobs\/sha256:0+: not complete after 150[0-9] ms/);
      } finally {
        client.close();
      }
    });
  });
});

describe('token realms', function () {
  it('refuses a plain-HTTP realm named by an HTTPS registry, and sends it nothing', async function () {
    await withServer((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{"token":"abc"}'), async (server) => {
      const t = new Transport({ deadlineMs: DEADLINE });
      try {
        const challenge = { scheme: 'bearer', params: { realm: `${server.url}/token`, service: 'registry.example' } };
        for (const credential of [{ kind: 'basic' as const, username: 'user', password: 'hunter2' }, undefined]) {
          await assert.rejects(
            fetchBearerToken(t, challenge, ['repository:a:pull'], credential, undefined, new URL('https://registry.example')),
            (err: Error & { code?: string }) => {
              assert.equal(err.code, 'AUTH_REALM_INSECURE');
              assert.match(err.message, /registry\.example is spoken to over HTTPS but names the plain-HTTP token realm http:\/\/127\.0\.0\.1/);
              return true;
            },
          );
        }
        assert.deepEqual(server.requests, [], 'the realm never heard from us');
        // The same realm for a registry spoken to over plain HTTP (loopback, insecure) is no downgrade.
        const token = await fetchBearerToken(t, challenge, ['repository:a:pull'], undefined, undefined, new URL('http://127.0.0.1:5000'));
        assert.equal(token.token, 'abc');
      } finally {
        t.close();
      }
    });
  });
});
