import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LayoutReader } from '../../src/source/layout.js';
import { ArchiveFiles, DirectoryFiles } from '../../src/source/local-files.js';
import { runOk } from '../harness/process.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * OCI layouts whose files are symlinks: to a file outside the layout (refused, never read), through a
 * `blobs` directory that links outside (refused), or to another file inside it (allowed: still the
 * layout's own bytes, and digest-checked like any other).
 */
describe('local layouts and symlinks', function () {
  let root: string;
  const secret = Buffer.from('root:$6$not-for-the-gate:19000:0:99999:7:::\n');
  const descriptor = { mediaType: 'application/octet-stream', digest: `sha256:${sha(secret)}`, size: secret.length };

  beforeEach(async function () {
    root = await mkdtemp(path.join(os.tmpdir(), 'imggate-symlink-'));
    await writeFile(path.join(root, 'outside-secret'), secret);
  });
  afterEach(async function () {
    await rm(root, { recursive: true, force: true });
  });

  async function layout(name: string): Promise<string> {
    const dir = path.join(root, name);
    await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    return dir;
  }

  const cases: Array<{ name: string; make: (dir: string) => Promise<void>; code?: string }> = [
    {
      name: 'a blob that is a symlink to a file outside the layout',
      make: (dir) => symlink(path.join(root, 'outside-secret'), path.join(dir, 'blobs', 'sha256', sha(secret))),
      code: 'SOURCE_ESCAPE',
    },
    {
      name: 'a relative symlink that climbs out',
      make: (dir) => symlink('../../../outside-secret', path.join(dir, 'blobs', 'sha256', sha(secret))),
      code: 'SOURCE_ESCAPE',
    },
    {
      name: 'a blobs directory that is a symlink outside',
      make: async (dir) => {
        await rm(path.join(dir, 'blobs'), { recursive: true });
        await mkdir(path.join(root, 'elsewhere', 'sha256'), { recursive: true });
        await writeFile(path.join(root, 'elsewhere', 'sha256', sha(secret)), secret);
        await symlink(path.join(root, 'elsewhere'), path.join(dir, 'blobs'));
      },
      code: 'SOURCE_ESCAPE',
    },
    {
      name: 'a symlink to another file inside the layout',
      make: async (dir) => {
        await writeFile(path.join(dir, 'copy'), secret);
        await symlink('../../copy', path.join(dir, 'blobs', 'sha256', sha(secret)));
      },
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code ?? 'read'}`, async function () {
      const dir = await layout('layout');
      await c.make(dir);
      const reader = new LayoutReader(new DirectoryFiles(dir), undefined);
      if (c.code === undefined) {
        assert.deepEqual(await reader.fetchBlob(descriptor, 1024), secret);
        return;
      }
      for (const attempt of [() => reader.fetchBlob(descriptor, 1024), () => reader.openBlob(descriptor)]) {
        await assert.rejects(attempt(), (err: Error & { code?: string }) => {
          assert.equal(err.code, c.code);
          assert.match(err.message, /outside the layout directory; refusing to read it/);
          assert.ok(!err.message.includes('not-for-the-gate'), 'the content never appears');
          return true;
        });
      }
    });
  }

  it('an index.json symlinked outside is refused too', async function () {
    const dir = await layout('layout');
    await writeFile(path.join(root, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
    await symlink(path.join(root, 'index.json'), path.join(dir, 'index.json'));
    await assert.rejects(new LayoutReader(new DirectoryFiles(dir), undefined).resolve(), { code: 'SOURCE_ESCAPE' });
  });

  it('the layout directory named through a symlink is fine', async function () {
    const dir = await layout('layout');
    await writeFile(path.join(dir, 'blobs', 'sha256', sha(secret)), secret);
    await symlink(dir, path.join(root, 'alias'));
    assert.deepEqual(await new LayoutReader(new DirectoryFiles(path.join(root, 'alias')), undefined).fetchBlob(descriptor, 1024), secret);
  });

  it('an oci-archive whose blob member is a symlink: the member is not a blob, nothing outside is read', async function () {
    const dir = await layout('layout');
    await symlink(path.join(root, 'outside-secret'), path.join(dir, 'blobs', 'sha256', sha(secret)));
    const archive = path.join(root, 'image.tar');
    // GNU tar stores the symlink itself (no --dereference): the archive names the outside path.
    await runOk('tar', ['-cf', archive, '-C', dir, '.']);
    const files = await ArchiveFiles.open(archive);
    await assert.rejects(new LayoutReader(files, undefined).fetchBlob(descriptor, 1024), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NOT_FOUND');
      assert.match(err.message, /lacks blob/);
      return true;
    });
  });
});
