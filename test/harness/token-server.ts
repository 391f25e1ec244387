import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { runOk } from './process.js';

export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  readonly rootCertBundle: string;
  /** Requests seen, for asserting the flow (scope, whether credentials came). */
  readonly requests: Array<{ scope: string[]; user: string | undefined }>;
  stop(): Promise<void>;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/**
 * A Docker token server on loopback: issues ES256 JWTs carrying an x5c chain that the distribution
 * registry verifies against its rootcertbundle. Users get what `grants` allows them; anonymous
 * requests get no access.
 */
export async function startTokenServer(users: Record<string, string>): Promise<TokenServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-token-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  await runOk('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=imggate-test-token',
  ]);
  const key = createPrivateKey(await readFile(keyFile));
  const certDer = Buffer.from((await readFile(certFile, 'utf8')).replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const service = 'imggate-test-registry';
  const issuer = 'imggate-test-issuer';
  const requests: TokenServer['requests'] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    let user: string | undefined;
    const authorization = req.headers.authorization;
    if (authorization?.startsWith('Basic ')) {
      const [name, password] = Buffer.from(authorization.slice(6), 'base64').toString().split(':');
      if (!name || users[name] !== password) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      user = name;
    }
    requests.push({ scope: scopes, user });
    const access = user
      ? scopes.map((s) => {
          const [type, ...rest] = s.split(':');
          const actions = (rest.pop() ?? '').split(',');
          return { type, name: rest.join(':'), actions };
        })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const headerPart = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', x5c: [certDer.toString('base64')] }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const signature = sign('sha256', Buffer.from(`${headerPart}.${claims}`), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${headerPart}.${claims}.${b64url(signature)}`;
    // Half the answers use `access_token`, as OAuth2 servers do; clients must read both.
    const body = requests.length % 2 ? { token, expires_in: 300 } : { access_token: token, expires_in: 300 };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle: certFile,
    requests,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
