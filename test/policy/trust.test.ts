import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadRules } from '../../src/policy/load-rules.js';
import { trustScopeFor } from '../../src/policy/load-trust.js';
import { runOk } from '../harness/process.js';

describe('rules/trust.yaml', function () {
  let root: string;
  before(async function () {
    root = await mkdtemp(path.join(os.tmpdir(), 'imggate-trustyaml-'));
    await mkdir(path.join(root, 'keys', 'store'), { recursive: true });
    // One CA as PEM and one as DER in the same trust store: Notation accepts both.
    for (const name of ['pem-ca', 'der-ca']) {
      await runOk('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(root, `${name}.key`), '-out', path.join(root, 'keys', 'store', `${name}.pem`), '-subj', `/CN=${name}`, '-days', '2']);
    }
    await runOk('openssl', ['x509', '-in', path.join(root, 'keys', 'store', 'der-ca.pem'), '-outform', 'DER', '-out', path.join(root, 'keys', 'store', 'der-ca.der')]);
    await rm(path.join(root, 'keys', 'store', 'der-ca.pem'));
  });
  after(async function () {
    await rm(root, { recursive: true, force: true });
  });

  async function rules(trust: string): Promise<string> {
    const dir = path.join(root, `rules-${Math.random().toString(36).slice(2)}`);
    await cp(path.resolve('rules'), dir, { recursive: true });
    await writeFile(path.join(dir, 'trust.yaml'), trust);
    return dir;
  }

  it('loads signers relative to the project root, PEM and DER trust stores, scopes in order', async function () {
    const r = await loadRules(await rules("version: 1\nsigners:\n  acme: { notation: { trustStores: [keys/store], trustedIdentities: ['*'] } }\nscopes:\n  - { match: 'r.example/prod/**', level: enforce, signers: [acme] }\n  - { match: 'r.example/**', level: audit, signers: [acme] }\ndefault: { level: skip }\n"));
    const acme = r.trust.signers.get('acme');
    assert.equal(acme?.kind, 'notation');
    assert.equal(acme?.kind === 'notation' ? acme.roots.length : 0, 2);
    assert.equal(trustScopeFor(r.trust, 'r.example/prod/app').level, 'enforce');
    assert.equal(trustScopeFor(r.trust, 'r.example/dev/app').level, 'audit');
    assert.equal(trustScopeFor(r.trust, 'other.example/app').level, 'skip');
  });

  it('names every mistake with its field', async function () {
    const cases: Array<[string, RegExp]> = [
      ["version: 1\nscopes:\n  - { match: 'r/**', level: enforce, signers: [nobody] }\n", /scopes\.0\.signers: no signer named "nobody"/],
      ["version: 1\nsigners:\n  a: { cosign: { key: keys/missing.pub } }\n", /signers\.a: cannot read/],
      ["version: 1\nsigners:\n  a: { notation: { trustStores: [keys/store], trustedIdentities: ['*'] } }\nscopes:\n  - { match: 'r/**', level: enforce, signers: [a], threshold: 2 }\n", /threshold 2 exceeds the 1 signers/],
      ["version: 1\nscopes:\n  - { match: 'r/**', level: enforce }\n", /a scope that verifies names its signers/],
      ["version: 1\nsigners:\n  a: { keyless: { trustedRoot: keys/store/pem-ca.pem, identity: { exact: x }, issuer: { exact: y } } }\n", /is not a Sigstore trusted root/],
    ];
    for (const [yaml, message] of cases) {
      await assert.rejects(loadRules(await rules(yaml)), (err: Error & { code?: string }) => err.code === 'CONFIG_INVALID' && message.test(err.message), yaml);
    }
  });

  it('puts the key files into the policy digest', async function () {
    const yaml = "version: 1\nsigners:\n  acme: { notation: { trustStores: [keys/store], trustedIdentities: ['*'] } }\n";
    const dir = await rules(yaml);
    const before = (await loadRules(dir)).digest;
    await runOk('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(root, 'extra.key'), '-out', path.join(root, 'keys', 'store', 'extra.pem'), '-subj', '/CN=extra', '-days', '2']);
    try {
      assert.notEqual((await loadRules(dir)).digest, before);
    } finally {
      await rm(path.join(root, 'keys', 'store', 'extra.pem'));
    }
  });
});
