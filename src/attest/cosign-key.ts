import { randomBytes, scryptSync } from 'node:crypto';
import nacl from 'tweetnacl';
import * as z from '../zod.js';
import { ImggateError, type AttestErrorCode } from '../errors.js';

/**
 * cosign's encrypted private key: a PEM block whose body is JSON naming scrypt (N=2^16, r=8, p=1) for
 * the key derivation and NaCl secretbox (XSalsa20-Poly1305) for the cipher, over the PKCS#8 DER key
 * (the format of go-securesystemslib's `encrypted` package, which `cosign generate-key-pair` writes).
 */
export const COSIGN_PEM_TYPES = ['ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY'] as const;

const SCRYPT = { N: 65536, r: 8, p: 1 } as const;

const sealedSchema = z.object({
  kdf: z.object({
    name: z.literal('scrypt'),
    params: z.object({ N: z.number().check(z.int(), z.positive()), r: z.number().check(z.int(), z.positive()), p: z.number().check(z.int(), z.positive()) }),
    salt: z.string(),
  }),
  cipher: z.object({ name: z.literal('nacl/secretbox'), nonce: z.string() }),
  ciphertext: z.string(),
});

export function isCosignKey(pem: string): boolean {
  return COSIGN_PEM_TYPES.some((t) => pem.includes(`-----BEGIN ${t}-----`));
}

/** Opens a cosign-encrypted key; returns the PKCS#8 DER. */
export function openCosignKey(pem: string, password: string, what: string): Buffer {
  const body = /-----BEGIN [A-Z ]+-----([\s\S]+?)-----END [A-Z ]+-----/.exec(pem)?.[1];
  if (!body) throw new ImggateError<AttestErrorCode>('KEY_INVALID', `${what} is not a PEM block`);
  let sealed: z.infer<typeof sealedSchema>;
  try {
    sealed = sealedSchema.parse(JSON.parse(Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')));
  } catch (err) {
    throw new ImggateError<AttestErrorCode>('KEY_INVALID', `${what} is not a cosign encrypted key: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const { N, r, p } = sealed.kdf.params;
  if (N > 1 << 20 || r > 32 || p > 16) throw new ImggateError<AttestErrorCode>('KEY_INVALID', `${what}: scrypt parameters beyond what imggate will spend memory on`);
  const key = scryptSync(password, Buffer.from(sealed.kdf.salt, 'base64'), 32, { N, r, p, maxmem: 256 * N * r });
  const opened = nacl.secretbox.open(Buffer.from(sealed.ciphertext, 'base64'), Buffer.from(sealed.cipher.nonce, 'base64'), key);
  if (!opened) throw new ImggateError<AttestErrorCode>('KEY_PASSWORD', `${what} is encrypted and the password does not open it`);
  return Buffer.from(opened);
}

/** Seals PKCS#8 DER the way cosign does, so `cosign sign --key` reads the result. */
export function sealCosignKey(pkcs8: Buffer, password: string): string {
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const key = scryptSync(password, salt, 32, { ...SCRYPT, maxmem: 256 * SCRYPT.N * SCRYPT.r });
  const sealed = {
    kdf: { name: 'scrypt', params: SCRYPT, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(nacl.secretbox(pkcs8, nonce, key)).toString('base64'),
  };
  const b64 = Buffer.from(JSON.stringify(sealed)).toString('base64');
  return `-----BEGIN ${COSIGN_PEM_TYPES[0]}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${COSIGN_PEM_TYPES[0]}-----\n`;
}
