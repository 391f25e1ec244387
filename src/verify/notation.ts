import { constants, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import * as z from '../zod.js';
import type { SignedSubject, Verification } from './types.js';

export const NOTATION_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const JWS_MEDIA_TYPE = 'application/jose+json';
const PAYLOAD_TYPE = 'application/vnd.cncf.notary.payload.v1+json';
const CODE_SIGNING = '1.3.6.1.5.5.7.3.3';

/** Critical headers imggate understands; any other name in `crit` fails verification, as JWS requires. */
const KNOWN_CRITICAL = new Set(['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry', 'io.cncf.notary.authenticSigningTime']);

const envelopeSchema = z.object({
  payload: z.string(),
  protected: z.string(),
  header: z.looseObject({ x5c: z.array(z.string()).check(z.minLength(1)) }),
  signature: z.string(),
});

const protectedSchema = z.looseObject({
  alg: z.enum(['PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']),
  cty: z.literal(PAYLOAD_TYPE),
  crit: z.array(z.string()).check(z.minLength(1)),
  'io.cncf.notary.signingScheme': z.enum(['notary.x509', 'notary.x509.signingAuthority']),
  'io.cncf.notary.signingTime': z.optional(z.string()),
  'io.cncf.notary.authenticSigningTime': z.optional(z.string()),
  'io.cncf.notary.expiry': z.optional(z.string()),
});

const payloadSchema = z.object({
  targetArtifact: z.looseObject({ mediaType: z.string(), digest: z.string(), size: z.number().check(z.int(), z.nonnegative()) }),
});

export interface NotationTrust {
  readonly roots: readonly X509Certificate[];
  readonly identities: readonly string[];
  /**
   * Checks whose failure is logged, not fatal (Notation's `permissive` level, or `override: {expiry: log}`):
   * `expiry` (the signature's), `authenticTimestamp` (the certificates' validity period).
   */
  readonly logOnly?: ReadonlySet<'expiry' | 'authenticTimestamp'>;
}

/**
 * Verifies a Notary Project JWS signature envelope (notation.x509 signing scheme): the critical
 * headers, the signature over the protected header and payload, the certificate chain to a trust
 * store root (validity now and at the signing time, code-signing EKU on the leaf), a trusted identity,
 * the expiry, and that the payload's target artifact is exactly this manifest. Revocation is not
 * checked (no network). Does no I/O.
 */
export function verifyNotationJws(envelopeBytes: Buffer, trust: NotationTrust, subject: SignedSubject, now: Date): Verification {
  let envelope: z.infer<typeof envelopeSchema>;
  let header: z.infer<typeof protectedSchema>;
  try {
    envelope = envelopeSchema.parse(JSON.parse(envelopeBytes.toString('utf8')));
    header = protectedSchema.parse(JSON.parse(Buffer.from(envelope.protected, 'base64url').toString('utf8')));
  } catch (err) {
    return { ok: false, reason: `not a Notation JWS envelope: ${(err as Error).message.split('\n')[0]}` };
  }
  if (!header.crit.includes('io.cncf.notary.signingScheme')) return { ok: false, reason: 'io.cncf.notary.signingScheme is not marked critical' };
  for (const name of header.crit) {
    if (!KNOWN_CRITICAL.has(name)) return { ok: false, reason: `unsupported critical header ${name}` };
    if (!(name in header)) return { ok: false, reason: `critical header ${name} is listed but absent` };
  }
  if (header['io.cncf.notary.expiry'] !== undefined && !header.crit.includes('io.cncf.notary.expiry')) return { ok: false, reason: 'io.cncf.notary.expiry must be critical' };

  let chain: X509Certificate[];
  try {
    chain = envelope.header.x5c.map((c) => new X509Certificate(Buffer.from(c, 'base64')));
  } catch (err) {
    return { ok: false, reason: `a certificate in x5c does not parse: ${(err as Error).message}` };
  }
  const leaf = chain[0] as X509Certificate;

  // Integrity: the signature over BASE64URL(protected) '.' BASE64URL(payload), with the leaf's key.
  const input = Buffer.from(`${envelope.protected}.${envelope.payload}`, 'ascii');
  const signature = Buffer.from(envelope.signature, 'base64url');
  const bits = header.alg.slice(2);
  const hash = `sha${bits}`;
  let valid = false;
  try {
    if (header.alg.startsWith('PS')) {
      if (leaf.publicKey.asymmetricKeyType !== 'rsa') return { ok: false, reason: `alg ${header.alg} with a non-RSA certificate` };
      valid = cryptoVerify(hash, input, { key: leaf.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 }, signature);
    } else {
      const curve = { '256': 'prime256v1', '384': 'secp384r1', '512': 'secp521r1' }[bits];
      if (leaf.publicKey.asymmetricKeyDetails?.namedCurve !== curve) return { ok: false, reason: `alg ${header.alg} does not match the certificate's key` };
      valid = cryptoVerify(hash, input, { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, signature);
    }
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: 'the signature does not verify with the signing certificate (tampered?)' };

  let target: z.infer<typeof payloadSchema>['targetArtifact'];
  try {
    target = payloadSchema.parse(JSON.parse(Buffer.from(envelope.payload, 'base64url').toString('utf8'))).targetArtifact;
  } catch {
    return { ok: false, reason: 'the signed payload is not a Notation payload' };
  }
  if (target.digest !== subject.digest) return { ok: false, reason: `the signature is for ${target.digest}, not ${subject.digest}` };
  if (target.size !== subject.bytes.length || target.mediaType !== subject.mediaType) return { ok: false, reason: 'the signed target artifact differs in size or media type' };

  // Authenticity: leaf → intermediates → a trust store certificate.
  const signingTime = header['io.cncf.notary.signingTime'] ? new Date(header['io.cncf.notary.signingTime']) : undefined;
  if (signingTime && Number.isNaN(signingTime.getTime())) return { ok: false, reason: 'io.cncf.notary.signingTime is not a time' };
  const logged: string[] = [];
  for (const [i, cert] of chain.entries()) {
    const when = [now, ...(signingTime ? [signingTime] : [])];
    for (const t of when) {
      if (t < new Date(cert.validFrom) || t > new Date(cert.validTo)) {
        const reason = `certificate ${i} (${oneLine(cert.subject)}) is not valid at ${t.toISOString()} (valid ${cert.validFrom} – ${cert.validTo})`;
        if (!trust.logOnly?.has('authenticTimestamp')) return { ok: false, reason };
        logged.push(reason);
        break;
      }
    }
    const issuer = chain[i + 1];
    if (issuer && !(cert.checkIssued(issuer) && cert.verify(issuer.publicKey) && issuer.ca)) return { ok: false, reason: `certificate ${i} is not issued by the next one in x5c` };
  }
  const top = chain[chain.length - 1] as X509Certificate;
  const anchored = trust.roots.some((root) => top.fingerprint256 === root.fingerprint256 || (top.checkIssued(root) && top.verify(root.publicKey)));
  if (!anchored) return { ok: false, reason: `the certificate chain (${oneLine(leaf.subject)}) does not lead to a trusted CA` };
  const eku = leaf.keyUsage;
  if (eku && eku.length > 0 && !eku.includes(CODE_SIGNING)) return { ok: false, reason: 'the signing certificate is not for code signing (extended key usage)' };
  if (leaf.ca) return { ok: false, reason: 'the signing certificate is a CA certificate' };

  const subjectDn = parseDn(leaf.subject.split('\n').join(', '));
  const identity = trust.identities.find((id) => id === '*' || (id.startsWith('x509.subject:') && isSubset(parseDn(id.slice('x509.subject:'.length)), subjectDn)));
  if (!identity) return { ok: false, reason: `signer ${oneLine(leaf.subject)} is not a trusted identity` };

  const expiry = header['io.cncf.notary.expiry'];
  if (expiry !== undefined && now > new Date(expiry)) {
    if (!trust.logOnly?.has('expiry')) return { ok: false, reason: `the signature expired at ${expiry}` };
    logged.push(`the signature expired at ${expiry}`);
  }
  const note = logged.length ? ` (logged, not enforced: ${[...new Set(logged)].join('; ')})` : '';
  return { ok: true, reason: `signature verified${note}`, identity: oneLine(leaf.subject) };
}

function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}

/** `C=US, O=Acme, CN=Builder` → attribute pairs (escaped commas kept). */
function parseDn(dn: string): Array<[string, string]> {
  return dn
    .split(/(?<!\\),/)
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const eq = part.indexOf('=');
      return [part.slice(0, eq).trim().toUpperCase(), part.slice(eq + 1).trim()] as [string, string];
    });
}

/** Every attribute of the trusted identity is in the certificate's subject (Notation's subset rule). */
function isSubset(want: ReadonlyArray<[string, string]>, have: ReadonlyArray<[string, string]>): boolean {
  return want.length > 0 && want.every(([k, v]) => have.some(([hk, hv]) => hk === k && hv === v));
}
