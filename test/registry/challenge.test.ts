import assert from 'node:assert/strict';
import { parseChallenges } from '../../src/registry/auth/challenge.js';

describe('parseChallenges', function () {
  it('reads a Bearer challenge with quoted parameters', function () {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } },
    ]);
  });
  it('reads Basic, unquoted values, escapes, and several challenges', function () {
    const parsed = parseChallenges('Basic realm="a \\"quoted\\" realm", Bearer realm=https://x/token,service=svc');
    assert.equal(parsed.length, 2);
    assert.deepEqual(parsed[0], { scheme: 'basic', params: { realm: 'a "quoted" realm' } });
    assert.deepEqual(parsed[1], { scheme: 'bearer', params: { realm: 'https://x/token', service: 'svc' } });
  });
  it('keeps commas inside quoted scope lists', function () {
    const [c] = parseChallenges('Bearer realm="r",scope="repository:a:pull,push"');
    assert.equal(c?.params['scope'], 'repository:a:pull,push');
  });
  it('returns nothing for an absent header', function () {
    assert.deepEqual(parseChallenges(undefined), []);
  });
});
