import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/parse.js';
import { resolveServe } from '../../src/server/settings.js';
import { constantTimeEqual, signStandardWebhook, verifyStandardWebhook } from '../../src/server/auth.js';

const base = (serve: string) => parseConfig(`registries:\n  r.example: {}\nserve:\n${serve}`, 'imggate.yaml');

describe('serve settings: file, environment and flags, with field-named errors', function () {
  it('applies defaults, then the environment, then flags', function () {
    const config = base('  receivers:\n    hub:\n      type: distribution\n      auth: { kind: token, token: { env: HOOK } }\n');
    const a = resolveServe(config, { HOOK: 'a-token-of-16-chars' });
    assert.deepEqual([a.host, a.port, a.concurrency, a.leaseMs, a.bodyLimit], ['127.0.0.1', 8080, 2, 60_000, 1024 * 1024]);
    assert.equal(a.receivers.get('hub')?.auth.kind, 'token');
    const b = resolveServe(config, { HOOK: 'a-token-of-16-chars', IMGGATE_SERVE_LISTEN: '0.0.0.0:9000', IMGGATE_SERVE_CONCURRENCY: '4' });
    assert.deepEqual([b.host, b.port, b.concurrency], ['0.0.0.0', 9000, 4]);
    const c = resolveServe(config, { HOOK: 'a-token-of-16-chars', IMGGATE_SERVE_CONCURRENCY: '4' }, { listen: '[::1]:7000', concurrency: '8' });
    assert.deepEqual([c.host, c.port, c.concurrency], ['::1', 7000, 8]);
    assert.deepEqual([...c.allow], ['r.example']);
    assert.equal(c.reconcile, undefined, 'no listing unless asked for');
    const d = resolveServe(base('  reconcile:\n    repositories: [r.example/team/*, r.example/app]\n'), {});
    assert.deepEqual([d.reconcile?.intervalMs, d.reconcile?.watch.map((w) => [w.registry, w.repository ?? w.glob?.source])], [5 * 60_000, [['r.example', '^team\\/[^/]*$'], ['r.example', 'app']]]);
  });

  const errors: Array<[string, string, NodeJS.ProcessEnv, Record<string, string>, RegExp[]]> = [
    ['a secret whose variable is unset', '  receivers:\n    hub:\n      type: distribution\n      auth: { kind: token, token: { env: NOPE } }\n', {}, {}, [/serve\.receivers\.hub\.auth\.token\.env: the environment variable NOPE is not set/]],
    ['a tag-only receiver without a registry, and one off the allowlist', '  receivers:\n    dh:\n      type: dockerhub\n      auth: { kind: path, secret: { value: abcdefghijklmnopqrstu } }\n    q:\n      type: quay\n      registry: quay.io\n      auth: { kind: path, secret: { value: abcdefghijklmnopqrstu } }\n', {}, {}, [/serve\.receivers\.dh\.registry: a dockerhub receiver must name/, /serve\.receivers\.q\.registry: quay\.io is not an allowed registry/]],
    [
      'watched repositories off the allowlist or not names, and an interval under a second',
      '  reconcile:\n    repositories: [r.example/team/*, other.example/app, r.example/Bad]\n    interval: 500ms\n',
      {},
      {},
      [/serve\.reconcile\.repositories\.1: other\.example is not an allowed registry/, /serve\.reconcile\.repositories\.2: .*"Bad" is not a repository path segment/, /serve\.reconcile\.interval: at least 1s/],
    ],
    ['a bad listen flag and concurrency variable', '  listen: 127.0.0.1:80\n', { IMGGATE_SERVE_CONCURRENCY: 'many' }, { listen: 'nowhere' }, [/--listen: "nowhere" is not host:port/, /\$IMGGATE_SERVE_CONCURRENCY: "many"/]],
  ];
  for (const [title, serve, env, flags, patterns] of errors) {
    it(`names the field: ${title}`, function () {
      assert.throws(() => resolveServe(base(serve), env, flags), (err: Error) => patterns.every((p) => p.test(err.message)));
    });
  }

  it('rejects unknown keys and bad values in the file with their paths', function () {
    assert.throws(() => base('  listen: 8080\n  concurrency: 0\n  surprise: 1\n'), /serve\.listen[\s\S]*serve\.concurrency|serve\.concurrency[\s\S]*serve\.listen/);
  });
});

describe('webhook authentication', function () {
  it('compares tokens by value only', function () {
    const cases: Array<[string, string, boolean]> = [['secret-token', 'secret-token', true], ['secret-token', 'secret-tokeN', false], ['', 'secret-token', false], ['secret-token-longer', 'secret-token', false]];
    for (const [a, b, want] of cases) assert.equal(constantTimeEqual(a, b), want, `${a} vs ${b}`);
  });

  it('verifies Standard Webhooks signatures within the replay window', function () {
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    const body = Buffer.from('{"type":"image.pushed"}');
    const t = 1_700_000_000;
    const sig = signStandardWebhook(secret, 'msg_1', t, body);
    const now = t * 1000;
    const cases: Array<[string, { id?: string; timestamp?: string; signature?: string }, Buffer, number, boolean]> = [
      ['valid', { id: 'msg_1', timestamp: String(t), signature: sig }, body, now, true],
      ['one of several signatures valid', { id: 'msg_1', timestamp: String(t), signature: `v1,AAAA ${sig}` }, body, now, true],
      ['body changed', { id: 'msg_1', timestamp: String(t), signature: sig }, Buffer.from('{"type":"image.pushed "}'), now, false],
      ['id changed', { id: 'msg_2', timestamp: String(t), signature: sig }, body, now, false],
      ['too old', { id: 'msg_1', timestamp: String(t), signature: sig }, body, now + 301_000, false],
      ['from the future', { id: 'msg_1', timestamp: String(t), signature: sig }, body, now - 301_000, false],
      ['no signature', { id: 'msg_1', timestamp: String(t) }, body, now, false],
      ['another scheme', { id: 'msg_1', timestamp: String(t), signature: sig.replace('v1,', 'v1a,') }, body, now, false],
    ];
    for (const [why, h, b, at, want] of cases) {
      assert.equal(verifyStandardWebhook(secret, { id: h.id, timestamp: h.timestamp, signature: h.signature }, b, at, 300_000), want, why);
    }
  });
});
