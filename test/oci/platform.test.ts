import assert from 'node:assert/strict';
import { hostPlatform, parsePlatform, selectPlatform } from '../../src/oci/platform.js';
import type { Descriptor } from '../../src/oci/schemas.js';

const d = (n: number, platform?: Descriptor['platform']): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: 1,
  ...(platform ? { platform } : {}),
});

describe('platforms', function () {
  it('parses os/arch[/variant] with the spec’s implied variants', function () {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64', variant: undefined });
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: undefined });
    assert.deepEqual(parsePlatform('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.throws(() => parsePlatform('linux'), { code: 'PLATFORM_INVALID' });
    assert.throws(() => parsePlatform('linux/arm/v7/x'), { code: 'PLATFORM_INVALID' });
    assert.equal(hostPlatform().os, 'linux');
  });

  it('selects the matching manifest, skipping attestation entries, and refuses ambiguity', function () {
    const index = [
      d(1, { os: 'linux', architecture: 'amd64' }),
      d(2, { os: 'linux', architecture: 'arm', variant: 'v6' }),
      d(3, { os: 'linux', architecture: 'arm', variant: 'v7' }),
      d(4, { os: 'unknown', architecture: 'unknown' }),
      d(5),
    ];
    assert.equal(selectPlatform(index, parsePlatform('linux/arm')).digest, d(3).digest);
    assert.equal(selectPlatform(index, parsePlatform('linux/arm/v6')).digest, d(2).digest);
    assert.throws(() => selectPlatform(index, parsePlatform('windows/amd64')), /offers: linux\/amd64, linux\/arm\/v6, linux\/arm\/v7\)/);
    assert.throws(() => selectPlatform([d(1, { os: 'linux', architecture: 'amd64' }), d(6, { os: 'linux', architecture: 'amd64' })], parsePlatform('linux/amd64')), /refusing to guess/);
  });
});
