import assert from 'node:assert/strict';
import { BUNDLE_V03_MEDIA_TYPE } from '@sigstore/bundle';
import { BUNDLE_MEDIA_TYPE } from '../../src/attest/media-types.js';

describe('attest media types', function () {
  it('names the Sigstore bundle v0.3 media type as @sigstore/bundle does', function () {
    assert.equal(BUNDLE_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE);
  });
});
