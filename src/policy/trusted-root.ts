import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';

/**
 * A trusted_root.json as trust material. Every authority must say from when it is valid: the
 * specification requires `validFor.start`, and an authority without one would be trusted for any time.
 */
export function trustMaterialOf(json: unknown): TrustMaterial {
  const root = TrustedRoot.fromJSON(json);
  const authorities = [
    ...root.tlogs.map((t, i) => [`tlogs[${i}]`, t.publicKey?.validFor] as const),
    ...root.ctlogs.map((t, i) => [`ctlogs[${i}]`, t.publicKey?.validFor] as const),
    ...root.certificateAuthorities.map((c, i) => [`certificateAuthorities[${i}]`, c.validFor] as const),
    ...root.timestampAuthorities.map((c, i) => [`timestampAuthorities[${i}]`, c.validFor] as const),
  ];
  for (const [where, validFor] of authorities) {
    if (!validFor?.start) throw new Error(`${where} has no validFor.start`);
  }
  return toTrustMaterial(root);
}
