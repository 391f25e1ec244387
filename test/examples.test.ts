import assert from 'node:assert/strict';
import { imggate } from './harness/cli.js';
import type { Report } from '../src/report/types.js';

/** The README's first command runs against this committed layout; keep it honest. */
describe('the README example image', function () {
  it('verifies and reports the setuid helper a later layer deleted', async function () {
    const r = await imggate(['check', '--format', 'json', 'oci:examples/hello:1.0']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.image.digest, 'sha256:a3e215b0700567bf64ddcfef876e9ee07235071af061d46f7534a6caf990a25e');
    assert.equal(report.image.layers?.length, 3);
    const helper = report.findings.find((f) => f.path === '/usr/local/bin/debug-helper');
    assert.equal(helper?.inFinalFilesystem, false);
    assert.equal(helper?.createdBy, 'ADD rootfs.tar /');
  });

  it('never gives a verdict after its deadline: the same check with --timeout 1ms is an error', async function () {
    const r = await imggate(['check', '--format', 'json', '--timeout', '1ms', 'oci:examples/hello:1.0']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.verdict, 'error');
    assert.equal(report.error?.code, 'CHECK_TIMEOUT');
  });
});
