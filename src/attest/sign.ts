import { sign as cryptoSign } from 'node:crypto';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder, type Signature, type Signer, type Witness } from '@sigstore/sign';
import { INTOTO_PAYLOAD_TYPE, type Statement } from './statement.js';
import type { SigningKey } from './keys.js';

/** Signs with a local key; the bundle names no certificate, the verifier supplies the public key. */
export class KeySigner implements Signer {
  readonly #key: SigningKey;

  constructor(key: SigningKey) {
    this.#key = key;
  }

  async sign(data: Buffer): Promise<Signature> {
    return {
      signature: cryptoSign('sha256', data, { key: this.#key.privateKey, dsaEncoding: 'der' }),
      // No hint: @sigstore/bundle copies it into the DSSE signature's keyid, and cosign skips a
      // signature whose keyid differs from the id it derives for the verifying key (seen with cosign
      // 2.5.0: "accepted signatures do not match threshold"). DSSE keyids are optional hints anyway.
      key: { $case: 'publicKey', publicKey: this.#key.publicPem, hint: '' },
    };
  }
}

/**
 * Signs a statement as a DSSE envelope inside a Sigstore bundle v0.3. Offline unless witnesses are
 * given: no transparency log entry, no timestamp, so verifiers must trust the key itself.
 */
export async function signStatement(statement: Statement, signer: Signer, witnesses: Witness[] = []): Promise<Buffer> {
  const builder = new DSSEBundleBuilder({ signer, witnesses });
  const bundle = await builder.create({ data: Buffer.from(JSON.stringify(statement)), type: INTOTO_PAYLOAD_TYPE });
  return Buffer.from(JSON.stringify(bundleToJSON(bundle)));
}
