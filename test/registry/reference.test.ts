import assert from 'node:assert/strict';
import { formatReference, parseReference } from '../../src/registry/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', function () {
  const valid: Array<[string, string, string, string | undefined, string | undefined]> = [
    ['alpine', 'docker.io', 'library/alpine', 'latest', undefined],
    ['alpine:3.20', 'docker.io', 'library/alpine', '3.20', undefined],
    ['library/alpine', 'docker.io', 'library/alpine', 'latest', undefined],
    ['docker.io/alpine', 'docker.io', 'library/alpine', 'latest', undefined],
    ['index.docker.io/library/alpine', 'docker.io', 'library/alpine', 'latest', undefined],
    ['bitnami/redis:7', 'docker.io', 'bitnami/redis', '7', undefined],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    ['localhost:5000/team/app:1.2', 'localhost:5000', 'team/app', '1.2', undefined],
    ['127.0.0.1:5000/app@' + D, '127.0.0.1:5000', 'app', undefined, D],
    ['ghcr.io/org/sub/app:v1@' + D, 'ghcr.io', 'org/sub/app', 'v1', D],
    ['registry.example.com/a_b/c__d/e-f--g.h:tag_1.0-rc', 'registry.example.com', 'a_b/c__d/e-f--g.h', 'tag_1.0-rc', undefined],
    ['[::1]:5000/app', '[::1]:5000', 'app', 'latest', undefined],
  ];
  for (const [text, registry, repository, tag, digest] of valid) {
    it(`parses ${text}`, function () {
      assert.deepEqual(parseReference(text), { registry, repository, tag, digest });
    });
  }

  const invalid: Array<[string, RegExp]> = [
    ['', /empty/],
    ['Alpine', /lowercase/],
    ['docker.io/Library/alpine', /lowercase/],
    ['app:', /tag "" is not valid/],
    ['app:-bad', /tag/],
    ['app@sha256:abc', /wrong length/],
    ['app@md5:' + 'a'.repeat(32), /unsupported digest/],
    ['a//b', /lowercase/],
    ['app:' + 'x'.repeat(129), /tag/],
    ['bad_host:5000/app', /.*/],
    // A port the URL parser would refuse with a bare "Invalid URL": said as what it is.
    ['localhost:99999/app', /port 99999 is out of range/],
    ['127.0.0.1:0/app', /port 0 is out of range/],
    ['registry.example:65536/app:1', /port 65536 is out of range/],
  ];
  for (const [text, pattern] of invalid) {
    it(`rejects ${JSON.stringify(text.slice(0, 40))}`, function () {
      assert.throws(() => parseReference(text), (err: Error & { code?: string }) => err.code === 'REFERENCE_INVALID' && pattern.test(err.message));
    });
  }

  it('formats back the normalised form', function () {
    assert.equal(formatReference(parseReference('alpine')), 'docker.io/library/alpine:latest');
    assert.equal(formatReference(parseReference(`localhost:5000/a@${D}`)), `localhost:5000/a@${D}`);
  });
});
