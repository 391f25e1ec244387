import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { renderTable } from '../../src/report/table.js';
import { forTerminal, jsonForTerminal } from '../../src/report/terminal.js';
import type { Report } from '../../src/report/types.js';
import { imggate } from '../harness/cli.js';

/** Anything a terminal acts on, besides the newline that separates lines. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** What an attacker writes to draw a fake verdict over the real one: clear the line, go back, print PASS. */
const FAKE_PASS = '\u001b[2K\r\u001b[1APASS  all checks passed\u009b0m\u202e';

describe('terminal output of strings from outside', function () {
  const escapes: Array<[string, string]> = [
    ['\u001b[31m', '\\e[31m'],
    ['a\rb', 'a\\rb'],
    ['a\nb', 'a\\nb'],
    ['tab\there', 'tab\\there'],
    ['\u0007bell', '\\x07bell'],
    ['del\u007f', 'del\\x7f'],
    ['csi\u009b2J', 'csi\\x9b2J'],
    ['bidi\u202eevil', 'bidi\\u{202e}evil'],
    ['line\u2028sep', 'line\\u{2028}sep'],
    ['plain … → é 漢字 😀', 'plain … → é 漢字 😀'],
  ];
  for (const [raw, shown] of escapes) {
    it(`forTerminal(${forTerminal(JSON.stringify(raw))}) → ${shown}`, function () {
      assert.equal(forTerminal(raw), shown);
    });
  }

  it('jsonForTerminal keeps the document equal and leaves no raw control or bidi character', function () {
    const value = { message: `a${FAKE_PASS}b`, path: '/etc/\u0085x', list: ['\u2066', 'ok'] };
    const text = jsonForTerminal(JSON.stringify(value, null, 2));
    assert.doesNotMatch(text.replace(/\n/g, ''), RAW_CONTROL);
    assert.deepEqual(JSON.parse(text), value);
  });

  it('the table escapes every field: finding messages, error, platform, reasons, nested platforms', function () {
    const child: Report = {
      schema: 'imggate.report/v1',
      image: { reference: `r${FAKE_PASS}`, digest: 'sha256:1', mediaType: `m${FAKE_PASS}`, platform: `linux/${FAKE_PASS}` },
      verdict: 'fail',
      findings: [{ check: 'secret', rule: 'x', severity: 'high', blocking: true, message: `found in /app/${FAKE_PASS}`, layer: 'sha256:2', createdBy: `RUN ${FAKE_PASS}` }],
      signatures: [{ format: 'cosign', verified: false, reason: `bad ${FAKE_PASS}` }],
    } as Report;
    const report = { ...child, verdict: 'error', error: { code: 'HTTP_ERROR', message: `registry said ${FAKE_PASS}` }, platforms: [child] } as Report;
    const table = renderTable(report);
    for (const line of table.split('\n')) assert.doesNotMatch(line, RAW_CONTROL, JSON.stringify(line));
    assert.match(table, /registry said \\e\[2K\\r\\e\[1APASS/);
    assert.match(table, /found in \/app\/\\e\[2K/);
    assert.match(table, /platform linux\/\\e/);
  });

  it('the CLI prints an image whose layer media type carries escape sequences escaped (table, JSON, stderr)', async function () {
    this.timeout(120_000);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'imggate-escape-'));
    try {
      const blob = async (data: Buffer): Promise<{ digest: string; size: number }> => {
        const hex = createHash('sha256').update(data).digest('hex');
        await writeFile(path.join(dir, 'blobs', 'sha256', hex), data);
        return { digest: `sha256:${hex}`, size: data.length };
      };
      await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
      await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      const layer = await blob(Buffer.alloc(1024));
      const config = await blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
      const manifest = await blob(Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: `application/x${FAKE_PASS}`, ...layer }],
      })));
      await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }] }));

      const table = await imggate(['check', `oci:${dir}`, '--no-attest', '--no-store']);
      assert.equal(table.code, 2, table.stderr);
      assert.doesNotMatch(table.stdout.replace(/\n/g, ''), RAW_CONTROL);
      assert.match(table.stdout, /MEDIA_TYPE_UNSUPPORTED: .*application\/x\\e\[2K\\r\\e\[1APASS/);

      const json = await imggate(['check', `oci:${dir}`, '--no-attest', '--no-store', '--format', 'json']);
      assert.equal(json.code, 2);
      assert.doesNotMatch(json.stdout.replace(/\n/g, ''), RAW_CONTROL);
      const parsed = JSON.parse(json.stdout) as Report;
      assert.ok(parsed.error?.message.includes(`application/x${FAKE_PASS}`), 'JSON keeps the exact value, escaped by its own rules');
      assert.doesNotMatch(json.stderr.replace(/\n/g, ''), RAW_CONTROL);
      assert.match(json.stderr, /imggate: MEDIA_TYPE_UNSUPPORTED: .*\\e\[2K/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
