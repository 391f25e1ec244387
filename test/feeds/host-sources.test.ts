import assert from 'node:assert/strict';
import { alpineFeedFromHost, debianFeedFromHost, parseDeb822Sources, parseSourcesList } from '../../src/feeds/host-sources.js';

describe('host package sources', () => {
  const deb822 = [
    'Types: deb',
    '# a comment line',
    'URIs: http://mirror.test/debian',
    'Suites: bookworm bookworm-updates',
    'Components: main',
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
    '',
    'Types: deb',
    'URIs: http://mirror.test/debian-security',
    'Suites: bookworm-security',
    'Components: main',
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
    '',
    'Types: deb-src',
    'URIs: http://mirror.test/src',
    'Suites: bookworm',
    '',
    'Types: deb',
    'Enabled: no',
    'URIs: http://mirror.test/off',
    'Suites: bookworm',
    '',
    'Types: deb',
    'URIs: https://thirdparty.test/node',
    'Suites: nodistro',
    'Components: main',
  ].join('\n');

  it('reads deb822 .sources: one entry per URI and suite, deb-src and disabled stanzas left out', () => {
    assert.deepEqual(parseDeb822Sources(deb822, 'x.sources').map((s) => `${s.uri} ${s.suite} ${s.components.join(',')} ${s.signedBy.join(',')}`), [
      'http://mirror.test/debian bookworm main /usr/share/keyrings/debian-archive-keyring.gpg',
      'http://mirror.test/debian bookworm-updates main /usr/share/keyrings/debian-archive-keyring.gpg',
      'http://mirror.test/debian-security bookworm-security main /usr/share/keyrings/debian-archive-keyring.gpg',
      'https://thirdparty.test/node nodistro main ',
    ]);
  });

  const lines: Array<[string, string | undefined]> = [
    ['deb http://m.test/debian bookworm main contrib', 'http://m.test/debian bookworm main,contrib '],
    ['deb [arch=amd64 signed-by=/k.gpg] http://m.test/debian bookworm-updates main # trailing', 'http://m.test/debian bookworm-updates main /k.gpg'],
    ['deb-src http://m.test/debian bookworm main', undefined],
    ['# deb http://m.test/debian bookworm main', undefined],
  ];
  for (const [line, want] of lines) {
    it(`reads the one-line form: ${line}`, () => {
      const got = parseSourcesList(line, 'sources.list').map((s) => `${s.uri} ${s.suite} ${s.components.join(',')} ${s.signedBy.join(',')}`);
      assert.deepEqual(got, want === undefined ? [] : [want]);
    });
  }

  it("asks the host's mirrors for the image's release (a bullseye image on a bookworm host), never a third-party repository", () => {
    const feed = debianFeedFromHost(parseDeb822Sources(deb822, 'x.sources'), 'bullseye', 'arm64', []);
    assert.equal(feed?.mirror, 'http://mirror.test/debian');
    assert.equal(feed?.securityMirror, 'http://mirror.test/debian-security');
    assert.equal(feed?.codename, 'bullseye');
    assert.deepEqual(feed?.architectures, ['arm64']);
    assert.equal(feed?.withSecurity, true);
  });

  it("asks the host's mirrors for another release only when the image is the host's distribution", () => {
    const ubuntu = parseDeb822Sources('Types: deb\nURIs: http://m.test/ubuntu/\nSuites: noble noble-updates\nComponents: main universe\n\nTypes: deb\nURIs: http://s.test/ubuntu/\nSuites: noble-security\nComponents: main universe\n', 'ubuntu.sources');
    assert.equal(debianFeedFromHost(ubuntu, 'bookworm', 'amd64', [], false), undefined);
    assert.equal(debianFeedFromHost(ubuntu, 'jammy', 'amd64', [])?.mirror, 'http://m.test/ubuntu/');
    const noble = debianFeedFromHost(ubuntu, 'noble', 'amd64', [], false);
    assert.deepEqual([noble?.mirror, noble?.securityMirror, noble?.components], ['http://m.test/ubuntu/', 'http://s.test/ubuntu/', ['main', 'universe']]);
  });

  it('knows when the host names no -security suite, and when it names no distribution archive at all', () => {
    const noSecurity = debianFeedFromHost(parseSourcesList('deb http://m.test/debian bookworm main\ndeb http://m.test/debian bookworm-updates main\n', 'l'), 'bookworm', 'amd64', []);
    assert.equal(noSecurity?.withSecurity, false);
    assert.equal(debianFeedFromHost(parseSourcesList('deb https://thirdparty.test/node nodistro main\n', 'l'), 'bookworm', 'amd64', []), undefined);
  });

  it('reads /etc/apk/repositories and asks the same mirror for the image branch', () => {
    const feed = alpineFeedFromHost('https://apk.test/alpine/v3.20/main\nhttps://apk.test/alpine/v3.20/community\n@edge https://apk.test/alpine/edge/testing\n# comment\n', 'v3.19', 'x86_64', '/etc/apk/keys');
    assert.deepEqual(feed, { mirror: 'https://apk.test/alpine', branch: 'v3.19', repositories: ['main', 'community', 'testing'], architectures: ['x86_64'], keys: '/etc/apk/keys' });
  });
});
