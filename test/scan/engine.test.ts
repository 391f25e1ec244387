import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { check, type Analyzer } from '../../src/index.js';
import { BUILTIN_ANALYZERS, validateAnalyzers } from '../../src/scan/analyzers/index.js';
import { buildImage, writeOciLayout } from '../harness/images.js';
import { run } from '../harness/process.js';

/** An analyzer from outside the engine: proves checks plug in without touching it. */
const passwdReader = (seen: string[]): Analyzer => ({
  id: 'passwd-reader',
  version: 1,
  description: 'test: reads /etc/passwd',
  layer: () => {
    const lengths: Array<[number, number]> = [];
    return {
      wants: (e) => (e.path === '/etc/passwd' ? { contentBytes: 64 } : undefined),
      analyzeEntry: (e, content, truncated, sink) => {
        seen.push(`${e.layerIndex}:${content?.toString()}:${truncated}`);
        lengths.push([e.ordinal, content?.length ?? -1]);
        sink.report({ check: 'test', rule: 'passwd-seen', severity: 'info', blocking: false, message: 'seen', path: e.path, layerIndex: e.layerIndex });
      },
      facts: () => ({ lengths }),
    };
  },
  conclude: (_context, { image, facts }, sink) => {
    const final = image.fs.get('/etc/passwd');
    sink.report({ check: 'test', rule: 'final-layer', severity: 'info', blocking: false, message: `final from layer ${final?.layerIndex}` });
    // Facts come back by layer, naming entries by ordinal.
    const read = facts.flatMap((f, i) => (f as { lengths: Array<[number, number]> }).lengths.map(([ordinal, n]) => `${image.entry(i, ordinal)?.path}@${i}:${n}`));
    sink.report({ check: 'test', rule: 'facts', severity: 'info', blocking: false, message: read.join(' ') });
  },
});

const throwing: Analyzer = {
  id: 'broken',
  version: 1,
  description: 'test: throws',
  layer: () => ({
    wants: () => ({ contentBytes: 0 }),
    analyzeEntry: () => {
      throw new Error('boom');
    },
    facts: () => null,
  }),
  conclude: () => {},
};

describe('the layer engine', function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-engine-'));
    const image = await buildImage({
      layers: [
        { entries: [{ name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n' }] },
        { entries: [{ name: 'etc/passwd', content: 'x'.repeat(100) }], compression: 'zstd' },
      ],
    });
    await writeOciLayout(path.join(dir, 'img'), 'v1', image);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('hands analyzers the entries they ask for, capped, and the final filesystem at the end', async function () {
    const seen: string[] = [];
    const report = await check(`oci:${path.join(dir, 'img')}:v1`, { analyzers: [passwdReader(seen)], noCache: true });
    assert.equal(report.verdict, 'pass', report.error?.message);
    assert.deepEqual(seen.sort(), ['0:root:x:0:0::/root:/bin/sh\n:false', `1:${'x'.repeat(64)}:true`]);
    assert.equal(report.findings.find((f) => f.rule === 'final-layer')?.message, 'final from layer 1');
    assert.equal(report.findings.find((f) => f.rule === 'facts')?.message, '/etc/passwd@0:26 /etc/passwd@1:64');
    const first = report.findings.find((f) => f.rule === 'passwd-seen' && f.inFinalFilesystem === false);
    assert.ok(first, 'the replaced copy is marked not final');
    assert.deepEqual(report.analyzers, [{ id: 'passwd-reader', version: 1 }]);
  });

  it('turns an analyzer that throws into a blocking finding, never a silent pass', async function () {
    const report = await check(`oci:${path.join(dir, 'img')}:v1`, { analyzers: [throwing] });
    assert.equal(report.verdict, 'fail');
    const f = report.findings[0];
    assert.equal(f?.check, 'analyzer-error');
    assert.equal(f?.blocking, true);
    assert.match(f?.message ?? '', /broken failed on \/etc\/passwd: boom/);
  });

  it('refuses duplicate or malformed analyzer ids at start-up', function () {
    assert.throws(() => validateAnalyzers([...BUILTIN_ANALYZERS, ...BUILTIN_ANALYZERS]), /share the id/);
    assert.throws(() => validateAnalyzers([{ ...throwing, id: 'Bad Id' }]), /lowercase-kebab/);
  });

  it('keeps memory bounded on a layer that expands to 1 GiB', async function () {
    // About a minute of CPU on a quiet 2-core machine; a loaded one needs longer (this bounds memory, not time).
    this.timeout(300_000);
    const image = await buildImage({ layers: [{ entries: [{ name: 'huge', content: Buffer.alloc(1024 * 1024 * 1024) }] }] });
    await writeOciLayout(path.join(dir, 'huge'), 'v1', image);
    const bin = path.resolve('bin/imggate.js');
    // --no-store: the verdict would otherwise go to the user's own store.
    const r = await run('/usr/bin/time', ['-f', '%M', process.execPath, bin, 'check', '--quiet', '--no-store', '--no-attest', '--max-uncompressed-size', '2GiB', `oci:${path.join(dir, 'huge')}:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const peakKiB = Number(r.stderr.trim().split('\n').pop());
    assert.ok(peakKiB < 250 * 1024, `peak RSS ${Math.round(peakKiB / 1024)} MiB`);
  });
});
