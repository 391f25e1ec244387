import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { TrustMaterial } from '@sigstore/verify';
import { parsePublicKey } from '../attest/keys.js';
import { ImggateError } from '../errors.js';
import { notationPolicySchema, trustFileSchema, type TrustLevel } from './trust-schema.js';
import { globToRegExp } from './glob.js';

export type Matcher = { readonly exact: string } | { readonly regexp: RegExp };

export type Signer =
  | {
      readonly name: string;
      readonly kind: 'cosign';
      readonly publicKey: KeyObject;
      readonly keyFile: string;
      readonly dockerReference: 'repository' | 'any';
      /** Logs and TSAs to check a bundle's log entries and timestamps against; without it they are ignored. */
      readonly logs?: TrustMaterial | undefined;
    }
  | { readonly name: string; readonly kind: 'keyless'; readonly trust: TrustMaterial; readonly identity: Matcher; readonly issuer: Matcher }
  | {
      readonly name: string;
      readonly kind: 'notation';
      readonly roots: readonly X509Certificate[];
      readonly identities: readonly string[];
      readonly logOnly?: ReadonlySet<'expiry' | 'authenticTimestamp'>;
    };

export interface TrustScope {
  readonly match: readonly RegExp[];
  readonly level: TrustLevel;
  readonly signers: readonly string[];
  readonly threshold: number;
  /** Where the scope was written: `trust.yaml scopes[i]`, or the Notation policy's name. */
  readonly origin: string;
}

/** `rules/trust.yaml`, compiled: keys and certificates loaded, scopes in match order. */
export interface TrustPolicy {
  readonly signers: ReadonlyMap<string, Signer>;
  readonly scopes: readonly TrustScope[];
  readonly defaultLevel: TrustLevel;
}

export const NO_TRUST_POLICY: TrustPolicy = { signers: new Map(), scopes: [], defaultLevel: 'skip' };

/**
 * Loads trust.yaml. Paths in it are relative to the project root (the rules directory's parent), so
 * `keys/release.pub` names the file in the repository's `keys/`. Every file read is fed to `hash`,
 * so the policy digest changes when a key or CA certificate does.
 */
export async function loadTrust(file: string, data: unknown, hash: ReturnType<typeof createHash>): Promise<TrustPolicy> {
  const parsed = trustFileSchema.safeParse(data);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new ImggateError('CONFIG_INVALID', `${file} is not a valid trust policy:\n${lines.join('\n')}`);
  }
  const spec = parsed.data;
  const root = path.dirname(path.dirname(path.resolve(file)));
  const read = async (relative: string, what: string): Promise<Buffer> => {
    const full = path.resolve(root, relative);
    try {
      const bytes = await readFile(full);
      hash.update(`trust:${relative}\0${bytes.length}\0`).update(bytes);
      return bytes;
    } catch (err) {
      throw new ImggateError('CONFIG_INVALID', `${file}: ${what}: cannot read ${full}: ${(err as Error).message}`, { cause: err });
    }
  };
  const certsIn = async (relative: string, what: string): Promise<X509Certificate[]> => {
    const full = path.resolve(root, relative);
    const info = await stat(full).catch(() => undefined);
    if (!info) throw new ImggateError('CONFIG_INVALID', `${file}: ${what}: ${full} does not exist`);
    const files = info.isDirectory() ? (await readdir(full)).filter((f) => /\.(pem|crt|cer|der)$/.test(f)).sort().map((f) => path.join(relative, f)) : [relative];
    const certs: X509Certificate[] = [];
    for (const f of files) certs.push(...parseCertificates(await read(f, what), path.resolve(root, f)));
    if (certs.length === 0) throw new ImggateError('CONFIG_INVALID', `${file}: ${what}: no certificates in ${full}`);
    return certs;
  };

  const signers = new Map<string, Signer>();
  for (const [name, s] of Object.entries(spec.signers)) {
    const what = `signers.${name}`;
    const trustedRoot = async (relative: string): Promise<TrustMaterial> => {
      const bytes = await read(relative, what);
      // Sigstore's libraries load only for a policy that names a trusted root.
      const { trustMaterialOf } = await import('./trusted-root.js');
      try {
        return trustMaterialOf(JSON.parse(bytes.toString('utf8')));
      } catch (err) {
        throw new ImggateError('CONFIG_INVALID', `${file}: ${what}: ${relative} is not a Sigstore trusted root: ${(err as Error).message}`, { cause: err });
      }
    };
    if ('cosign' in s) {
      const keyFile = path.resolve(root, s.cosign.key);
      const logs = s.cosign.trustedRoot ? await trustedRoot(s.cosign.trustedRoot) : undefined;
      signers.set(name, { name, kind: 'cosign', publicKey: parsePublicKey((await read(s.cosign.key, what)).toString('utf8'), keyFile), keyFile: s.cosign.key, dockerReference: s.cosign.dockerReference, logs });
    } else if ('keyless' in s) {
      const trust = await trustedRoot(s.keyless.trustedRoot);
      signers.set(name, { name, kind: 'keyless', trust, identity: matcher(s.keyless.identity, file, `${what}.identity`), issuer: matcher(s.keyless.issuer, file, `${what}.issuer`) });
    } else {
      const roots: X509Certificate[] = [];
      for (const store of s.notation.trustStores) roots.push(...(await certsIn(store, what)));
      signers.set(name, { name, kind: 'notation', roots, identities: s.notation.trustedIdentities });
    }
  }

  const scopes: TrustScope[] = spec.scopes.map((s, i) => ({
    match: (Array.isArray(s.match) ? s.match : [s.match]).map(globToRegExp),
    level: s.level,
    signers: s.signers,
    threshold: s.threshold,
    origin: `trust.yaml scopes[${i}]`,
  }));

  if (spec.notation) {
    const policyBytes = await read(spec.notation.trustPolicy, 'notation.trustPolicy');
    let json: unknown;
    try {
      json = JSON.parse(policyBytes.toString('utf8'));
    } catch (err) {
      throw new ImggateError('CONFIG_INVALID', `${spec.notation.trustPolicy}: not JSON`, { cause: err });
    }
    const np = notationPolicySchema.safeParse(json);
    if (!np.success) throw new ImggateError('CONFIG_INVALID', `${spec.notation.trustPolicy} is not a Notation trust policy (version 1.0): ${np.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    // Notation lets a repository's own policy win over the `*` one, wherever each is listed.
    const ordered = [...np.data.trustPolicies].sort((a, b) => Number(a.registryScopes.includes('*')) - Number(b.registryScopes.includes('*')));
    for (const p of ordered) {
      const level: TrustLevel = p.signatureVerification.level === 'audit' ? 'audit' : p.signatureVerification.level === 'skip' ? 'skip' : 'enforce';
      const name = `notation:${p.name}`;
      if (level !== 'skip') {
        const roots: X509Certificate[] = [];
        for (const store of p.trustStores ?? []) {
          const [type, storeName] = store.split(':') as [string, string];
          if (type === 'tsa') continue;
          roots.push(...(await certsIn(path.join(spec.notation.trustStoreDir, 'x509', type, storeName), `notation policy ${p.name}`)));
        }
        if (roots.length === 0) throw new ImggateError('CONFIG_INVALID', `${spec.notation.trustPolicy}: policy ${p.name} verifies but names no trust store`);
        signers.set(name, { name, kind: 'notation', roots, identities: p.trustedIdentities ?? [], logOnly: loggedChecks(p.signatureVerification) });
      }
      scopes.push({
        match: p.registryScopes.map((r) => (r === '*' ? /^.*$/ : new RegExp(`^${r.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`))),
        level,
        signers: level === 'skip' ? [] : [name],
        threshold: 1,
        origin: `Notation policy ${p.name}`,
      });
    }
  }
  return { signers, scopes, defaultLevel: spec.default.level };
}

/** The scope that governs an image (first match), or the default. */
export function trustScopeFor(policy: TrustPolicy, scope: string): TrustScope {
  return policy.scopes.find((s) => s.match.some((m) => m.test(scope))) ?? { match: [], level: policy.defaultLevel, signers: [], threshold: 1, origin: 'trust.yaml default' };
}

/** The certificates in a file: PEM blocks, or one DER certificate (Notation trust stores hold both). */
export function parseCertificates(bytes: Buffer, what: string): X509Certificate[] {
  const text = bytes.toString('latin1');
  const blocks: Array<string | Buffer> = text.includes('-----BEGIN') ? (text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) : [bytes];
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new ImggateError('CONFIG_INVALID', `${what}: a certificate does not parse: ${(err as Error).message}`, { cause: err });
    }
  });
}

function matcher(m: { exact: string } | { regexp: string }, file: string, where: string): Matcher {
  if ('exact' in m) return m;
  try {
    return { regexp: new RegExp(`^(?:${m.regexp})$`) };
  } catch (err) {
    throw new ImggateError('CONFIG_INVALID', `${file}: ${where}: not a valid regular expression`, { cause: err });
  }
}


/**
 * Notation's levels: `strict` enforces every check; `permissive` (and `audit`, which imggate reports
 * without blocking anyway) only logs a failed expiry or authentic-timestamp check; `override` moves a
 * single check to `enforce`, `log` or `skip` (skip is logged here: imggate never drops a reason).
 * Integrity and authenticity are always enforced, as in Notation; revocation is not checked.
 */
function loggedChecks(v: { level: string; override?: Record<string, string> | undefined }): ReadonlySet<'expiry' | 'authenticTimestamp'> {
  const logged = new Set<'expiry' | 'authenticTimestamp'>(v.level === 'strict' ? [] : ['expiry', 'authenticTimestamp']);
  for (const check of ['expiry', 'authenticTimestamp'] as const) {
    const action = v.override?.[check];
    if (action === 'enforce') logged.delete(check);
    else if (action === 'log' || action === 'skip') logged.add(check);
  }
  return logged;
}
