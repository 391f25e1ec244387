import assert from 'node:assert/strict';
import { parseImageConfig, parseManifest } from '../../src/oci/manifest.js';
import { goFold } from '../../src/oci/go-json.js';
import { buildGoread, goread } from '../harness/goread.js';
import { diffRuns, rng } from '../helpers/rng.js';

const D = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;

describe('JSON as Go reads it', function () {
  it('folds keys as encoding/json does (ASCII case, ſ, Kelvin sign, dotless and dotted i)', function () {
    assert.equal(goFold('Layers'), goFold('layers'));
    assert.equal(goFold('ſchemaVersion'), goFold('schemaVersion'));
    assert.equal(goFold('\u212aey'), goFold('key'));
    assert.equal(goFold('archıtecture'), goFold('architecture'));
    assert.notEqual(goFold('layers_'), goFold('layers'));
  });

  const manifest = (extra: string): Buffer =>
    Buffer.from(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"${D(1)}","size":2},${extra}}`);

  const refused: Array<[string, Buffer]> = [
    ['layers and Layers', manifest(`"layers":[],"Layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"${D(2)}","size":3}]`)],
    ['layers twice', manifest(`"layers":[],"layers":[]`)],
    ['a key with the long s', manifest(`"layers":[],"ſchemaVersion":2`)],
    ['invalid UTF-8', Buffer.concat([manifest('"layers":[]').subarray(0, 20), Buffer.from([0xff]), manifest('"layers":[]').subarray(20)])],
    ['an escaped lone surrogate', manifest(`"layers":[],"annotations":{"a":"\\ud800"}`)],
    ['an annotation key twice', manifest(`"layers":[],"annotations":{"a":"1","a":"2"}`)],
  ];
  for (const [what, bytes] of refused) {
    it(`refuses a manifest with ${what}`, function () {
      assert.throws(() => parseManifest(bytes, undefined, 'manifest'), (err: Error & { code?: string }) => err.code === 'MANIFEST_INVALID');
    });
  }

  it('reads a key in another case as the field Go fills (LAYERS is layers)', function () {
    const parsed = parseManifest(manifest(`"LAYERS":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"${D(2)}","size":3}]`), undefined, 'manifest');
    assert.equal(parsed.kind, 'manifest');
    assert.equal(parsed.kind === 'manifest' ? parsed.manifest.layers[0]?.digest : '', D(2));
  });

  it('reads the config User whatever its case, and refuses two of them', function () {
    const config = (c: string): Buffer => Buffer.from(`{"architecture":"amd64","os":"linux","config":{${c}},"rootfs":{"type":"layers","diff_ids":[]}}`);
    assert.equal(parseImageConfig(config('"user":"0"'), 'config').config?.User, '0');
    assert.equal(parseImageConfig(config('"USER":"nobody"'), 'config').config?.User, 'nobody');
    assert.throws(() => parseImageConfig(config('"User":"nobody","user":"0"'), 'config'), /one field/);
  });
});

describe('manifest and config JSON vs Go encoding/json @differential', function () {
  this.timeout(600_000);
  let binary: string | undefined;
  before(async function () {
    binary = await buildGoread();
    if (!binary) this.skip();
  });
  const { runs, seed } = diffRuns(400);

  it(`never accepts a config Go reads differently (${runs} generated, seed ${seed})`, async function () {
    const r = rng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
    const spell = (key: string): string => pick([key, key, key.toLowerCase(), key.toUpperCase(), key.replace(/s/g, 'ſ'), key.replace(/k/g, '\u212a'), key.replace(/i/g, 'ı')]);
    let accepted = 0;
    let agreedRoot = 0;
    const problems: string[] = [];
    for (let i = 0; i < runs; i++) {
      const fields: string[] = [];
      const n = 1 + Math.floor(r() * 3);
      for (let k = 0; k < n; k++) fields.push(`"${spell('User')}":${JSON.stringify(pick(['0', 'nobody', 'root', '1000', '']))}`);
      if (r() < 0.5) fields.push(`"${spell('Env')}":["A=${i}"]`);
      if (r() < 0.3) fields.push(`"${spell('Labels')}":{"k":"v"${r() < 0.2 ? ',"k":"w"' : ''}}`);
      const doc = Buffer.from(`{"${spell('architecture')}":"amd64","os":"linux","${spell('config')}":{${fields.join(',')}},"rootfs":{"type":"layers","diff_ids":[]}}`);
      const go = JSON.parse(await goread(binary as string, 'json-config', doc)) as { error?: string; value?: { config: { User?: string; Env?: string[]; Labels?: Record<string, string> } } };
      let ours: ReturnType<typeof parseImageConfig> | undefined;
      try {
        ours = parseImageConfig(doc, 'config');
      } catch {
        ours = undefined;
      }
      if (!ours) continue;
      accepted++;
      if (go.error) {
        problems.push(`accepted what Go refuses (${go.error}): ${doc.toString()}`);
        continue;
      }
      const goUser = go.value?.config.User ?? '';
      if ((ours.config?.User ?? '') !== goUser) problems.push(`User ${JSON.stringify(ours.config?.User)} vs Go ${JSON.stringify(goUser)}: ${doc.toString()}`);
      if (JSON.stringify(ours.config?.Env ?? []) !== JSON.stringify(go.value?.config.Env ?? [])) problems.push(`Env differs: ${doc.toString()}`);
      if (JSON.stringify(ours.config?.Labels ?? {}) !== JSON.stringify(go.value?.config.Labels ?? {})) problems.push(`Labels differ: ${doc.toString()}`);
      if (goUser === '0') agreedRoot++;
    }
    assert.deepEqual(problems.slice(0, 5), []);
    assert.ok(accepted > runs / 5, `only ${accepted} of ${runs} accepted: the comparison proves little`);
    assert.ok(agreedRoot > 0);
  });
});
