import assert from 'node:assert/strict';
import { isImggateError } from '../../src/errors.js';
import { RECEIVERS, type ReceivedEvent } from '../../src/server/receivers/index.js';
import { V1, V2 } from '../../src/server/receivers/distribution.js';
import { CLOUDEVENTS } from '../../src/server/receivers/harbor.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const OCI = 'application/vnd.oci.image.manifest.v1+json';

const dist = (action: string, mediaType: string, extra: Record<string, unknown> = {}) => ({
  id: `id-${action}-${mediaType.length}`,
  action,
  target: { mediaType, repository: 'team/app', digest: D1, url: `http://r.example:5000/v2/team/app/manifests/${D1}`, tag: '1.0', ...extra },
  request: { host: 'r.example:5000', useragent: 'skopeo/1.13' },
});

type Case = [string, keyof typeof RECEIVERS, string, Record<string, string>, unknown, ReceivedEvent[]];

const cases: Case[] = [
  [
    'distribution 2.x: several events, only manifest pushes kept',
    'distribution',
    V1,
    {},
    {
      events: [
        dist('push', OCI),
        dist('push', 'application/vnd.oci.image.layer.v1.tar+gzip'),
        dist('pull', OCI),
        dist('mount', OCI),
        { ...dist('push', 'application/vnd.docker.distribution.manifest.list.v2+json'), id: 'idx', target: { ...dist('push', OCI).target, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', digest: D2, tag: undefined } },
      ],
    },
    [
      { eventId: `id-push-${OCI.length}`, registry: 'r.example:5000', repository: 'team/app', tag: '1.0', digest: D1 },
      { eventId: 'idx', registry: 'r.example:5000', repository: 'team/app', tag: undefined, digest: D2 },
    ],
  ],
  ['distribution: the gate’s own pushes and artifact tags are not images to check', 'distribution', V1, {}, { events: [{ ...dist('push', OCI), request: { host: 'r.example:5000', useragent: 'imggate/0.1.0' } }, dist('push', OCI, { tag: `sha256-${'3'.repeat(64)}.sig` })] }, []],
  [
    'distribution: deletes of a tag, a manifest and a repository name what is gone (no URL: the request host)',
    'distribution',
    V1,
    {},
    {
      events: [
        { id: 'del-tag', action: 'delete', target: { repository: 'team/app', tag: '1.0' }, request: { host: 'r.example:5000' } },
        { id: 'del-manifest', action: 'delete', target: { repository: 'team/app', digest: D1 }, request: { host: 'r.example:5000' } },
        { id: 'del-repo', action: 'delete', target: { repository: 'team/old' }, request: { host: 'r.example:5000' } },
      ],
    },
    [
      { eventId: 'del-tag', registry: 'r.example:5000', repository: 'team/app', tag: '1.0', digest: undefined, deleted: true },
      { eventId: 'del-manifest', registry: 'r.example:5000', repository: 'team/app', tag: undefined, digest: D1, deleted: true },
      { eventId: 'del-repo', registry: 'r.example:5000', repository: 'team/old', tag: undefined, digest: undefined, deleted: true },
    ],
  ],
  ['distribution 3.x: one event per request', 'distribution', V2, {}, dist('push', OCI), [{ eventId: `id-push-${OCI.length}`, registry: 'r.example:5000', repository: 'team/app', tag: '1.0', digest: D1 }]],
  [
    'Harbor default JSON',
    'harbor',
    'application/json',
    {},
    { type: 'PUSH_ARTIFACT', occur_at: 1700000000, event_data: { resources: [{ digest: D1, tag: 'v2', resource_url: 'harbor.example.com/library/nginx:v2' }], repository: { repo_full_name: 'library/nginx' } } },
    [{ eventId: 'derived', registry: 'harbor.example.com', repository: 'library/nginx', tag: 'v2', digest: D1 }],
  ],
  ['Harbor: other event types ignored', 'harbor', 'application/json', {}, { type: 'PULL_ARTIFACT', event_data: { resources: [] } }, []],
  [
    'Harbor CloudEvents, binary mode',
    'harbor',
    'application/json',
    { 'ce-type': 'harbor.artifact.pushed', 'ce-id': 'ce-1', 'ce-specversion': '1.0' },
    { resources: [{ digest: D2, tag: 'latest', resource_url: 'harbor.example.com/proj/app:latest' }] },
    [{ eventId: 'ce-1', registry: 'harbor.example.com', repository: 'proj/app', tag: 'latest', digest: D2 }],
  ],
  [
    'Harbor CloudEvents, structured mode',
    'harbor',
    CLOUDEVENTS,
    {},
    { specversion: '1.0', id: 'ce-2', type: 'harbor.artifact.pushed', source: '/projects/1/webhook/policies/1', data: { resources: [{ digest: D2, resource_url: `harbor.example.com/proj/app@${D2}` }] } },
    [{ eventId: 'ce-2', registry: 'harbor.example.com', repository: 'proj/app', tag: undefined, digest: D2 }],
  ],
  ['Docker Hub: a tag, no digest', 'dockerhub', 'application/json', {}, { push_data: { tag: 'stable', pushed_at: 1 }, repository: { repo_name: 'org/app' } }, [{ eventId: 'derived', registry: 'hub.internal:5000', repository: 'org/app', tag: 'stable' }]],
  ['Quay: every updated tag', 'quay', 'application/json', {}, { repository: 'org/app', updated_tags: ['a', 'b'] }, [
    { eventId: 'derived', registry: 'hub.internal:5000', repository: 'org/app', tag: 'a' },
    { eventId: 'derived', registry: 'hub.internal:5000', repository: 'org/app', tag: 'b' },
  ]],
  ['generic signed form', 'generic', 'application/json', { 'webhook-id': 'msg_1' }, { type: 'image.pushed', data: { registry: 'r.example', repository: 'a/b', digest: D1 } }, [{ eventId: 'msg_1', registry: 'r.example', repository: 'a/b', tag: undefined, digest: D1 }]],
];

describe('webhook receivers: payloads normalised to (registry, repository, tag, digest, event id)', function () {
  for (const [title, type, mediaType, headers, body, expected] of cases) {
    it(title, function () {
      const events = RECEIVERS[type].parse({ body: Buffer.from(JSON.stringify(body)), mediaType, headers }, { registry: 'hub.internal:5000' });
      const derived = (e: ReceivedEvent) => (expected.some((x) => x.eventId === 'derived') ? { ...e, eventId: 'derived' } : e);
      assert.deepEqual(events.map(derived), expected);
      if (events.length > 1 && expected.every((x) => x.eventId === 'derived')) assert.equal(new Set(events.map((e) => e.eventId)).size, events.length, 'derived ids differ per event');
    });
  }

  const bad: Array<[string, keyof typeof RECEIVERS, string, string]> = [
    ['not JSON', 'distribution', V1, '{'],
    ['envelope without events', 'distribution', V1, '{}'],
    ['a push without a digest', 'distribution', V1, JSON.stringify({ events: [{ ...dist('push', OCI), target: { mediaType: OCI, repository: 'a/b' } }] })],
    ['a target url that is no URL', 'distribution', V1, JSON.stringify({ events: [dist('push', OCI, { url: 'not a url' })] })],
    ['a delete without a repository', 'distribution', V1, JSON.stringify({ events: [{ id: 'd', action: 'delete', target: { tag: 'x' }, request: { host: 'r.example' } }] })],
    ['a delete of a digest that is not one', 'distribution', V1, JSON.stringify({ events: [{ id: 'd', action: 'delete', target: { repository: 'a/b', digest: 'md5:x' }, request: { host: 'r.example' } }] })],
    ['a delete that names no registry', 'distribution', V1, JSON.stringify({ events: [{ id: 'd', action: 'delete', target: { repository: 'a/b', tag: 'x' } }] })],
    ['Harbor resource with a bad digest', 'harbor', 'application/json', JSON.stringify({ type: 'PUSH_ARTIFACT', event_data: { resources: [{ digest: 'md5:x', resource_url: 'h.example/a/b:1' }] } })],
    ['Docker Hub repository that is not a name', 'dockerhub', 'application/json', JSON.stringify({ push_data: { tag: 'x' }, repository: { repo_name: '../../etc' } })],
    ['generic without tag or digest', 'generic', 'application/json', JSON.stringify({ type: 'image.pushed', data: { registry: 'r', repository: 'a' } })],
  ];
  for (const [title, type, mediaType, body] of bad) {
    it(`refuses ${title} as PAYLOAD_INVALID`, function () {
      assert.throws(
        () => RECEIVERS[type].parse({ body: Buffer.from(body), mediaType, headers: { 'webhook-id': 'x' } }, { registry: 'hub.internal:5000' }),
        (err: unknown) => isImggateError(err) && err.code === 'PAYLOAD_INVALID',
      );
    });
  }
});
