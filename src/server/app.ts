import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { isImggateError } from '../errors.js';
import { parseReference } from '../registry/reference.js';
import { decodeCursor } from '../store/images-sql.js';
import type { ImageStore, ImageView } from '../store/images.js';
import type { Job, JobQueue } from '../store/queue.js';
import type { StoredVerdict, VerdictStore } from '../store/types.js';
import { matchToken, tokenFrom, constantTimeEqual, verifyStandardWebhook } from './auth.js';
import { mediaTypeOf, readBody } from './body.js';
import { httpError, statusOf, UNAUTHORIZED } from './http-errors.js';
import type { Ingest } from './ingest.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { checkRequest, digestParam, imageListQuery, jobId, listQuery } from './schemas.js';
import type { ResolvedReceiver, Scope, ServeRuntime } from './settings.js';
import { parseJson } from './receivers/payload.js';

export interface AppDeps {
  readonly runtime: ServeRuntime;
  readonly queue: JobQueue;
  readonly verdicts: VerdictStore;
  readonly images: ImageStore;
  readonly ingest: Ingest;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Whether the workers run (readiness). */
  readonly workersAlive: () => boolean;
  readonly now?: () => number;
}

type Handler = (req: Request, res: Response) => Promise<void>;

/** Express 5 passes a rejected promise to the error handler; this only names the type. */
const route = (h: Handler) => (req: Request, res: Response, next: NextFunction) => h(req, res).catch(next);

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function verdictSummary(v: StoredVerdict) {
  return {
    id: v.id,
    reference: v.reference,
    ...(v.platform ? { platform: v.platform } : {}),
    verdict: v.verdict,
    checkedAt: v.checkedAt,
    ...(v.attestations ? { attestations: v.attestations } : {}),
  };
}

function imageView(i: ImageView) {
  return {
    registry: i.registry,
    repository: i.repository,
    digest: i.digest,
    tags: i.tags,
    current: i.current,
    seenAt: iso(i.seenAt),
    ...(i.removedAt !== undefined ? { removedAt: iso(i.removedAt) } : {}),
    ...(i.verdict ? { verdict: i.verdict } : {}),
    ...(i.checkedAt ? { checkedAt: i.checkedAt } : {}),
  };
}

/** RFC 3339 or ms since the epoch, as the list queries take them. */
const time = (t: string | undefined): number | undefined => (t === undefined ? undefined : /^[0-9]+$/.test(t) ? Number(t) : Date.parse(t));

/** The HTTP face of the service: receivers under /hooks, the API under /v1, and the operations endpoints. */
export function buildApp(deps: AppDeps): express.Express {
  const { runtime, queue, ingest, metrics, log } = deps;
  const now = deps.now ?? Date.now;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    res.on('finish', () => {
      const receiver = (res.locals['receiver'] as string | undefined) ?? (req.path.startsWith('/v1/') ? 'api' : 'other');
      metrics.requests.inc({ receiver, status: String(res.statusCode) });
    });
    next();
  });

  const jobView = async (job: Job, detail: boolean) => ({
    id: job.id,
    digest: job.digest,
    registry: job.registry,
    repository: job.repository,
    ...(job.tag ? { tag: job.tag } : {}),
    state: job.state,
    priority: job.priority,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    ...(job.verdict ? { verdict: job.verdict } : {}),
    ...(job.lastError ? { lastError: job.lastError } : {}),
    createdAt: iso(job.createdAt),
    ...(job.finishedAt !== undefined ? { finishedAt: iso(job.finishedAt) } : {}),
    ...(detail
      ? {
          events: (await queue.events(job.id)).map((e) => ({ receiver: e.receiver, eventId: e.eventId, ...(e.tag ? { tag: e.tag } : {}), receivedAt: iso(e.receivedAt) })),
          verdicts: (await deps.verdicts.list({ jobId: job.id, limit: 100 })).map(verdictSummary),
        }
      : {}),
  });

  // ---- receivers ----
  const hook: Handler = async (req, res) => {
    const name = String(req.params['name']);
    const pathSecret = req.params['secret'] === undefined ? undefined : String(req.params['secret']);
    const r: ResolvedReceiver | undefined = runtime.receivers.get(name);
    // An unknown receiver answers like a bad secret: names are not to be probed.
    if (!r) throw UNAUTHORIZED();
    res.locals['receiver'] = name;
    if (r.auth.kind === 'path') {
      if (pathSecret === undefined || !constantTimeEqual(pathSecret, r.auth.secret)) throw UNAUTHORIZED();
    } else {
      if (pathSecret !== undefined) throw UNAUTHORIZED();
      if (r.auth.kind === 'token' && !matchToken(tokenFrom(header(req, 'authorization')), [{ secret: r.auth.token, value: true }])) throw UNAUTHORIZED();
    }
    const mediaType = mediaTypeOf(req);
    if (!r.receiver.mediaTypes.includes(mediaType)) {
      throw httpError('CONTENT_TYPE_UNSUPPORTED', `${name} takes ${r.receiver.mediaTypes.join(', ')}`);
    }
    const body = await readBody(req, runtime.bodyLimit);
    if (r.auth.kind === 'standard-webhooks') {
      const ok = verifyStandardWebhook(
        r.auth.secret,
        { id: header(req, 'webhook-id'), timestamp: header(req, 'webhook-timestamp'), signature: header(req, 'webhook-signature') },
        body,
        now(),
        r.auth.toleranceMs,
      );
      if (!ok) throw UNAUTHORIZED();
    }
    const events = r.receiver.parse({ body, mediaType, headers: req.headers }, { registry: r.registry });
    const accepted = await ingest.accept(name, events, 'push');
    res.status(accepted.length ? 202 : 200).json({ accepted: accepted.map((a) => ({ eventId: a.eventId, id: a.jobId, digest: a.digest, deduped: a.deduped })) });
  };
  app.post('/hooks/:name', route(hook));
  app.post('/hooks/:name/:secret', route(hook));

  // ---- API ----
  const auth = (scope: Scope) => (req: Request, res: Response, next: NextFunction) => {
    res.locals['receiver'] = 'api';
    const token = matchToken(tokenFrom(header(req, 'authorization')), runtime.apiTokens);
    if (!token) return next(UNAUTHORIZED());
    if (!token.scopes.includes(scope)) return next(httpError('FORBIDDEN', `this token has no ${scope} scope`));
    res.locals['tokenName'] = token.name;
    next();
  };

  app.post(
    '/v1/checks',
    auth('write'),
    route(async (req, res) => {
      if (mediaTypeOf(req) !== 'application/json') throw httpError('CONTENT_TYPE_UNSUPPORTED', 'POST /v1/checks takes application/json');
      const body = parseJson(checkRequest, await readBody(req, runtime.bodyLimit), 'check request');
      let ref;
      try {
        ref = parseReference(body.reference);
      } catch (err) {
        throw httpError('PAYLOAD_INVALID', `reference: ${(err as Error).message}`);
      }
      // Every manual request is an event of its own; dedupe happens on the job.
      const accepted = await ingest.accept('api', [{ eventId: `api:${randomUUID()}`, registry: ref.registry, repository: ref.repository, tag: ref.tag, digest: ref.digest }], body.priority);
      res.status(202).json({ accepted: accepted.map((a) => ({ eventId: a.eventId, id: a.jobId, digest: a.digest, deduped: a.deduped })) });
    }),
  );

  app.get(
    '/v1/checks',
    auth('read'),
    route(async (req, res) => {
      const q = listQuery.safeParse(req.query);
      if (!q.success) throw httpError('PAYLOAD_INVALID', q.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '));
      const page = await queue.list({
        repository: q.data.repository,
        verdict: q.data.verdict,
        state: q.data.state,
        since: time(q.data.since),
        until: time(q.data.until),
        cursor: q.data.cursor === undefined ? undefined : Number(q.data.cursor),
        limit: q.data.limit === undefined ? undefined : Number(q.data.limit),
      });
      const checks = [];
      for (const job of page.jobs) checks.push(await jobView(job, false));
      res.json({ checks, ...(page.next !== undefined ? { next: String(page.next) } : {}) });
    }),
  );

  const jobParam = (req: Request): number => {
    const id = jobId.safeParse(req.params['id']);
    if (!id.success) throw httpError('NOT_FOUND', 'no such check');
    return Number(id.data);
  };

  app.get(
    '/v1/checks/:id',
    auth('read'),
    route(async (req, res) => {
      const job = await queue.get(jobParam(req));
      if (!job) throw httpError('NOT_FOUND', 'no such check');
      res.json(await jobView(job, true));
    }),
  );

  app.post(
    '/v1/checks/:id/retry',
    auth('write'),
    route(async (req, res) => {
      const id = jobParam(req);
      const job = await queue.get(id);
      if (!job) throw httpError('NOT_FOUND', 'no such check');
      if (!(await queue.retry(id))) throw httpError('CONFLICT', `check ${id} is ${job.state}; only a failed check can be retried`);
      log.info('check retried', { job: id, token: res.locals['tokenName'] as string });
      const again = await queue.get(id);
      res.json(again ? await jobView(again, false) : {});
    }),
  );

  app.get(
    '/v1/images',
    auth('read'),
    route(async (req, res) => {
      const q = imageListQuery.safeParse(req.query);
      if (!q.success) throw httpError('PAYLOAD_INVALID', q.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '));
      if (q.data.cursor !== undefined && !decodeCursor(q.data.cursor)) throw httpError('PAYLOAD_INVALID', 'cursor: not the `next` of a page');
      const page = await deps.images.list({
        repository: q.data.repository,
        current: q.data.current !== 'false',
        changedSince: time(q.data.changedSince),
        cursor: q.data.cursor,
        limit: q.data.limit === undefined ? undefined : Number(q.data.limit),
      });
      res.json({ images: page.images.map(imageView), ...(page.next !== undefined ? { next: page.next } : {}) });
    }),
  );

  app.get(
    '/v1/images/:digest',
    auth('read'),
    route(async (req, res) => {
      const digest = digestParam.safeParse(req.params['digest']);
      if (!digest.success) throw httpError('NOT_FOUND', 'no verdict for that image');
      const [latest] = await deps.verdicts.list({ digest: digest.data, limit: 1 });
      if (!latest) throw httpError('NOT_FOUND', 'no verdict for that image');
      res.json({
        digest: latest.digest,
        verdict: latest.verdict,
        reference: latest.reference,
        checkedAt: latest.checkedAt,
        ...(latest.jobId !== undefined ? { checkId: latest.jobId } : {}),
        ...(latest.attestations ? { attestations: latest.attestations } : {}),
        report: latest.report,
      });
    }),
  );

  // ---- operations ----
  const document = openApiDocument();
  app.get('/openapi.json', (_req, res) => void res.json(document));
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get(
    '/readyz',
    route(async (_req, res) => {
      let store = true;
      try {
        await queue.ping();
      } catch {
        store = false;
      }
      const workers = deps.workersAlive();
      res.status(store && workers ? 200 : 503).json({ store, workers });
    }),
  );
  app.get(
    '/metrics',
    route(async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    }),
  );

  app.use((_req: Request, _res: Response, next: NextFunction) => next(httpError('NOT_FOUND', 'no such endpoint')));
  // Every error leaves as {error: {code, message}} with its status from one table; the log line has
  // the code and route, never the body or the request's headers.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = statusOf(err);
    const code = isImggateError(err) ? err.code : 'INTERNAL';
    const message = status === 500 ? 'internal error' : isImggateError(err) ? err.message : 'error';
    const fields = { status, code, method: req.method, route: req.route ? String((req.route as { path: unknown }).path) : req.path.split('/').slice(0, 3).join('/'), receiver: res.locals['receiver'] as string | undefined };
    if (status >= 500) log.error(isImggateError(err) ? err.message : 'unexpected error', fields);
    else log.warn('request refused', fields);
    if (res.headersSent) return;
    res.status(status).json({ error: { code, message } });
  });
  return app;
}

