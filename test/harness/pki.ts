import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runOk } from './process.js';

/** Certificates made by openssl (an independent producer): a CA and code-signing leaves it issues. */
export interface Cert {
  readonly key: string;
  readonly cert: string;
  readonly pem: string;
}

export async function makeCa(dir: string, name: string, subject: string): Promise<Cert> {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  await runOk('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', subject, '-days', '30',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { key, cert, pem: await readFile(cert, 'utf8') };
}

/** A leaf for signing: `days` of validity from now, code-signing EKU unless `eku` says otherwise. */
export async function makeLeaf(dir: string, name: string, ca: Cert, subject: string, options: { days?: number; eku?: string } = {}): Promise<Cert> {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const ext = path.join(dir, `${name}.ext`);
  await writeFile(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${options.eku ?? 'codeSigning'}\n`);
  await runOk('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', subject]);
  await runOk('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', String(options.days ?? 7), '-extfile', ext]);
  return { key, cert, pem: await readFile(cert, 'utf8') };
}

function derOf(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/**
 * A Notary Project JWS envelope (notary.x509 scheme, PS256) over `target`, signed by openssl with the
 * leaf's key; the chain in x5c is leaf then CA. `header` overrides protected-header fields.
 */
export async function notationJws(
  dir: string,
  leaf: Cert,
  chain: readonly Cert[],
  target: { mediaType: string; digest: string; size: number },
  header: Record<string, unknown> = {},
): Promise<Buffer> {
  const protectedHeader = {
    alg: 'PS256',
    cty: 'application/vnd.cncf.notary.payload.v1+json',
    crit: ['io.cncf.notary.signingScheme'],
    'io.cncf.notary.signingScheme': 'notary.x509',
    'io.cncf.notary.signingTime': new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    ...header,
  };
  const p = Buffer.from(JSON.stringify(protectedHeader)).toString('base64url');
  const payload = Buffer.from(JSON.stringify({ targetArtifact: target })).toString('base64url');
  const input = path.join(dir, 'jws-input');
  const sig = path.join(dir, 'jws-sig');
  await writeFile(input, `${p}.${payload}`);
  await runOk('openssl', ['dgst', '-sha256', '-sign', leaf.key, '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32', '-out', sig, input]);
  const signature = (await readFile(sig)).toString('base64url');
  return Buffer.from(
    JSON.stringify({
      payload,
      protected: p,
      header: { x5c: [leaf, ...chain].map((c) => derOf(c.pem)), 'io.cncf.notary.signingAgent': 'imggate-test/openssl' },
      signature,
    }),
  );
}
