import assert from 'node:assert/strict';
import { evaluateAttestations } from '../../src/attest/evaluate.js';
import { generateSigningKey, parsePublicKey, parseSigningKey } from '../../src/attest/keys.js';
import { KeySigner, signStatement } from '../../src/attest/sign.js';
import { verificationSummary } from '../../src/attest/statement.js';
import type { Report } from '../../src/report/types.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const POLICY = `sha256:${'b'.repeat(64)}`;

function report(verdict: Report['verdict'], checkedAt: string, digest = DIGEST): Report {
  return {
    schema: 'imggate.report/v1',
    image: { reference: '127.0.0.1:5000/app:1', digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', source: 'registry' },
    verdict,
    findings: [],
    signatures: [{ format: 'cosign', verified: true, digest: `sha256:${'c'.repeat(64)}`, uri: 'oci://127.0.0.1:5000/app@sig' }],
    policy: { digest: POLICY },
    checkedAt,
    durationMs: 1,
  };
}

describe('verify-attestation decisions', function () {
  const pair = generateSigningKey(undefined);
  const signer = new KeySigner(parseSigningKey(pair.privatePem, undefined, 'test key'));
  const publicKey = parsePublicKey(pair.publicPem, 'test key');
  const ctx = { verifierId: 'https://gate.example', verifierVersion: '0.0.0', policyUri: 'file:///rules' };
  const now = new Date('2026-06-01T12:00:00Z');
  const sign = async (r: Report) => ({ source: r.checkedAt + r.verdict, bytes: await signStatement(verificationSummary(r, ctx), signer) });

  it('the VSA names the verifier, the policy digest and the verified signatures as input attestations', function () {
    const vsa = verificationSummary(report('pass', now.toISOString()), ctx);
    assert.deepEqual(vsa.subject, [{ name: '127.0.0.1:5000/app', digest: { sha256: 'a'.repeat(64) } }]);
    const p = vsa.predicate as Record<string, unknown>;
    assert.deepEqual(p['policy'], { uri: 'file:///rules', digest: { sha256: 'b'.repeat(64) } });
    assert.deepEqual(p['inputAttestations'], [{ uri: 'oci://127.0.0.1:5000/app@sig', digest: { sha256: 'c'.repeat(64) } }]);
    assert.equal(p['verificationResult'], 'PASSED');
    assert.deepEqual(p['verifiedLevels'], []);
    const failed = verificationSummary(report('error', now.toISOString()), ctx).predicate as Record<string, unknown>;
    assert.equal(failed['verificationResult'], 'FAILED', 'an inconclusive check must not read as PASSED');
  });

  const cases: Array<{ name: string; reports: Array<[Report['verdict'], string]>; req?: { maxAgeMs?: number; policyDigest?: string; digest?: string }; passed: boolean; reason: RegExp }> = [
    { name: 'one fresh PASSED', reports: [['pass', '2026-06-01T11:00:00Z']], passed: true, reason: /PASSED/ },
    { name: 'newest FAILED outvotes an older PASSED', reports: [['pass', '2026-06-01T10:00:00Z'], ['fail', '2026-06-01T11:00:00Z']], passed: false, reason: /newest verdict is FAILED/ },
    { name: 'newest PASSED after an older FAILED', reports: [['fail', '2026-06-01T10:00:00Z'], ['pass', '2026-06-01T11:00:00Z']], passed: true, reason: /PASSED/ },
    { name: 'too old for --max-age', reports: [['pass', '2026-05-30T11:00:00Z']], req: { maxAgeMs: 86_400_000 }, passed: false, reason: /none of 1/ },
    { name: 'from the future', reports: [['pass', '2026-06-01T13:00:00Z']], passed: false, reason: /none of 1/ },
    { name: 'another policy', reports: [['pass', '2026-06-01T11:00:00Z']], req: { policyDigest: `sha256:${'d'.repeat(64)}` }, passed: false, reason: /none of 1/ },
    { name: 'another digest', reports: [['pass', '2026-06-01T11:00:00Z']], req: { digest: `sha256:${'e'.repeat(64)}` }, passed: false, reason: /none of 1/ },
    { name: 'nothing at all', reports: [], passed: false, reason: /no attestation found/ },
  ];
  for (const c of cases) {
    it(c.name, async function () {
      const candidates = await Promise.all(c.reports.map(([v, t]) => sign(report(v, t))));
      const d = evaluateAttestations(candidates, { publicKey, now, digest: c.req?.digest ?? DIGEST, maxAgeMs: c.req?.maxAgeMs, policyDigest: c.req?.policyDigest });
      assert.equal(d.passed, c.passed, d.reason);
      assert.match(d.reason, c.reason);
    });
  }

  it('rejects garbage, a bundle signed by another key, and a statement of another type', async function () {
    const other = new KeySigner(parseSigningKey(generateSigningKey(undefined).privatePem, undefined, 'other'));
    const r = report('pass', '2026-06-01T11:00:00Z');
    const foreign = await signStatement(verificationSummary(r, ctx), other);
    const notVsa = await signStatement({ ...verificationSummary(r, ctx), predicateType: 'https://slsa.dev/provenance/v1' }, signer);
    const d = evaluateAttestations(
      [
        { source: 'garbage', bytes: Buffer.from('{"mediaType":') },
        { source: 'foreign', bytes: foreign },
        { source: 'provenance', bytes: notVsa },
      ],
      { publicKey, now, digest: DIGEST },
    );
    assert.equal(d.passed, false);
    assert.deepEqual(
      d.considered.map((c) => c.reason.split(':')[0]),
      ['BUNDLE_INVALID', 'SIGNATURE_INVALID', 'STATEMENT_INVALID'],
    );
  });
});
