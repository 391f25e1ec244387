import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ImggateError, type AttestErrorCode } from '../errors.js';
import { isCosignKey, openCosignKey, sealCosignKey } from './cosign-key.js';

/** The gate's signing key: ECDSA P-256, as the attestation format and cosign expect. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicPem: string;
  /** sha256 of the SubjectPublicKeyInfo DER, hex: the bundle's key hint and the key's id in the store. */
  readonly keyId: string;
}

/**
 * Reads a private key — cosign's encrypted format, PKCS#8 (plain or encrypted) or SEC1 PEM — and
 * insists on ECDSA P-256. `password`
 * unlocks an encrypted key; a wrong or missing one is KEY_PASSWORD, never a silent unsigned run.
 */
export function parseSigningKey(pem: string, password: string | undefined, what: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = isCosignKey(pem)
      ? createPrivateKey({ key: openCosignKey(pem, password ?? '', what), format: 'der', type: 'pkcs8' })
      : createPrivateKey({ key: pem, format: 'pem', ...(password ? { passphrase: password } : {}) });
  } catch (err) {
    if (err instanceof ImggateError) throw err;
    const encrypted = /ENCRYPTED/.test(pem);
    if (encrypted) {
      throw new ImggateError<AttestErrorCode>('KEY_PASSWORD', `${what} is encrypted and ${password ? 'the password does not open it' : 'no password was given (IMGGATE_KEY_PASSWORD)'}`, { cause: err });
    }
    throw new ImggateError<AttestErrorCode>('KEY_INVALID', `${what} is not a PEM private key: ${(err as Error).message}`, { cause: err });
  }
  const details = privateKey.asymmetricKeyDetails;
  if (privateKey.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') {
    throw new ImggateError<AttestErrorCode>('KEY_INVALID', `${what} is ${privateKey.asymmetricKeyType}${details?.namedCurve ? ` ${details.namedCurve}` : ''}; the gate signs with ECDSA P-256`);
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), keyId: keyIdOf(publicKey) };
}

/** Reads a PEM public key (SubjectPublicKeyInfo) such as `gate.pub`. */
export function parsePublicKey(pem: string, what: string): KeyObject {
  try {
    const key = createPublicKey({ key: pem, format: 'pem' });
    if (key.type !== 'public') throw new Error('not a public key');
    return key;
  } catch (err) {
    throw new ImggateError<AttestErrorCode>('KEY_INVALID', `${what} is not a PEM public key: ${(err as Error).message}`, { cause: err });
  }
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/**
 * A new P-256 key pair: the private key in cosign's encrypted format (scrypt + secretbox; an empty
 * password still encrypts, as cosign does), so `cosign sign --key` takes it too; the public key as PEM.
 */
export function generateSigningKey(password: string | undefined): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  return { privatePem: sealCosignKey(der, password ?? ''), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}
