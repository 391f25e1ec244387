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

/**
 * A Fulcio-style CA (EC P-256) and RFC 3161 timestamp authority, made with openssl, and the
 * trusted_root.json naming them: the offline trust material of a private Sigstore deployment.
 */
export interface SigstorePki {
  readonly dir: string;
  readonly ca: Cert;
  readonly tsa: Cert;
  readonly tsaRoot: Cert;
  /** `trustedRoot(cas)`: the trusted root JSON with these CAs (default the PKI's own) and the TSA. */
  trustedRoot(cas?: readonly Cert[]): string;
}

export async function makeSigstorePki(dir: string, name: string): Promise<SigstorePki> {
  const ecCa = async (n: string, subject: string): Promise<Cert> => {
    const key = path.join(dir, `${n}.key`);
    const cert = path.join(dir, `${n}.pem`);
    await runOk('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', subject, '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    return { key, cert, pem: await readFile(cert, 'utf8') };
  };
  const ca = await ecCa(`${name}-fulcio`, `/O=${name}/CN=${name} Fulcio`);
  const tsaRoot = await ecCa(`${name}-tsa-root`, `/O=${name}/CN=${name} TSA Root`);
  const tsaKey = path.join(dir, `${name}-tsa.key`);
  const tsaCsr = path.join(dir, `${name}-tsa.csr`);
  const tsaCert = path.join(dir, `${name}-tsa.pem`);
  const ext = path.join(dir, `${name}-tsa.ext`);
  await writeFile(ext, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n');
  await runOk('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', tsaKey, '-out', tsaCsr, '-subj', `/O=${name}/CN=${name} TSA`]);
  await runOk('openssl', ['x509', '-req', '-in', tsaCsr, '-CA', tsaRoot.cert, '-CAkey', tsaRoot.key, '-CAcreateserial', '-out', tsaCert, '-days', '30', '-extfile', ext]);
  const tsa = { key: tsaKey, cert: tsaCert, pem: await readFile(tsaCert, 'utf8') };
  const raw = (c: Cert): { rawBytes: string } => ({ rawBytes: derOf(c.pem) });
  const start = new Date(Date.now() - 86_400_000).toISOString();
  return {
    dir,
    ca,
    tsa,
    tsaRoot,
    trustedRoot: (cas = [ca]) =>
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
        tlogs: [],
        ctlogs: [],
        certificateAuthorities: cas.map((c) => ({ subject: { organization: name, commonName: 'fulcio' }, uri: 'https://fulcio.test', certChain: { certificates: [raw(c)] }, validFor: { start } })),
        timestampAuthorities: [{ subject: { organization: name, commonName: 'tsa' }, uri: 'https://tsa.test', certChain: { certificates: [raw(tsa), raw(tsaRoot)] }, validFor: { start } }],
      }),
  };
}

/**
 * A short-lived signing certificate as Fulcio issues them: EC P-256, code signing, the identity as a
 * URI SAN and the OIDC issuer in extension 1.3.6.1.4.1.57264.1.8. `validity` as openssl ca dates.
 */
export async function makeFulcioLeaf(pki: SigstorePki, name: string, identity: string, issuer: string, validity?: { start: string; end: string }): Promise<Cert> {
  const key = path.join(pki.dir, `${name}.key`);
  const csr = path.join(pki.dir, `${name}.csr`);
  const cert = path.join(pki.dir, `${name}.pem`);
  const ext = path.join(pki.dir, `${name}.ext`);
  await writeFile(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectAltName=critical,URI:${identity}\n1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:${issuer}\n`);
  await runOk('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', '/O=sigstore.dev']);
  if (validity) {
    // `openssl ca` is the one openssl 3.0 command that takes explicit start and end dates.
    const db = path.join(pki.dir, `${name}-ca`);
    await runOk('mkdir', ['-p', db]);
    await writeFile(path.join(db, 'index.txt'), '');
    await writeFile(path.join(db, 'serial'), '1000\n');
    const conf = path.join(db, 'ca.cnf');
    await writeFile(conf, `[ca]\ndefault_ca=c\n[c]\ndatabase=${db}/index.txt\nserial=${db}/serial\nnew_certs_dir=${db}\ndefault_md=sha256\npolicy=p\nunique_subject=no\ncopy_extensions=none\n[p]\norganizationName=supplied\n`);
    await runOk('openssl', ['ca', '-batch', '-config', conf, '-cert', pki.ca.cert, '-keyfile', pki.ca.key, '-in', csr, '-out', cert, '-startdate', validity.start, '-enddate', validity.end, '-extfile', ext, '-notext']);
  } else {
    await runOk('openssl', ['x509', '-req', '-in', csr, '-CA', pki.ca.cert, '-CAkey', pki.ca.key, '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', ext]);
  }
  return { key, cert, pem: await readFile(cert, 'utf8') };
}

/** An RFC 3161 timestamp response from the PKI's TSA (openssl ts) over `data`. */
export async function timestamp(pki: SigstorePki, data: Buffer): Promise<Buffer> {
  const input = path.join(pki.dir, 'ts-data');
  const query = path.join(pki.dir, 'ts.tsq');
  const reply = path.join(pki.dir, 'ts.tsr');
  const conf = path.join(pki.dir, 'tsa.cnf');
  await writeFile(input, data);
  await writeFile(path.join(pki.dir, 'tsaserial'), '01\n');
  await writeFile(conf, `[tsa]\ndefault_tsa=t\n[t]\nserial=${pki.dir}/tsaserial\nsigner_cert=${pki.tsa.cert}\nsigner_key=${pki.tsa.key}\nsigner_digest=sha256\ndefault_policy=1.2.3.4.1\ndigests=sha256\naccuracy=secs:1\ness_cert_id_alg=sha256\n`);
  await runOk('openssl', ['ts', '-query', '-data', input, '-sha256', '-cert', '-no_nonce', '-out', query]);
  await runOk('openssl', ['ts', '-reply', '-config', conf, '-queryfile', query, '-out', reply]);
  return readFile(reply);
}
