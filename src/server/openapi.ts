import * as z from '../zod.js';
import { VERSION } from '../version.js';
import { accepted, checkList, checkRequest, checkResponse, errorResponse, imageList, imageListQuery, imageResponse, listQuery } from './schemas.js';

type JsonSchema = Record<string, unknown>;

/** One schema as a plain JSON Schema (its own $defs entry when it carries an id). */
function inline(schema: z.ZodMiniType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema & { $ref?: string; $defs?: Record<string, JsonSchema> };
  const { $schema: _s, $ref, $defs, ...rest } = out;
  const id = $ref?.split('/').pop();
  return id && $defs?.[id] ? $defs[id] : rest;
}

/** Every schema with an id, as components: responses as the server writes them, requests as it reads them. */
function components(): Record<string, JsonSchema> {
  const all = z.toJSONSchema(z.globalRegistry, { io: 'output', target: 'draft-2020-12', unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` }).schemas;
  const out: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(all)) {
    const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
    out[id] = rest;
  }
  out['CheckRequest'] = inline(checkRequest, 'input');
  out['CheckListQuery'] = inline(listQuery, 'input');
  out['ImageListQuery'] = inline(imageListQuery, 'input');
  return out;
}

const ID_OF = new Map<z.ZodMiniType, string>([
  [checkRequest, 'CheckRequest'],
  [accepted, 'Accepted'],
  [checkList, 'CheckList'],
  [checkResponse, 'Check'],
  [imageResponse, 'Image'],
  [imageList, 'ImageList'],
  [errorResponse, 'Error'],
]);
const json = (schema: z.ZodMiniType) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ID_OF.get(schema) ?? 'Error'}` } } });
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: String(c), content: json(errorResponse) }]));
const bearer = [{ bearer: [] }];

/** The OpenAPI 3.1 document: its schemas are generated from the zod schemas the server validates with. */
export function openApiDocument(): Record<string, unknown> {
  const schemas = components();
  const query = schemas['CheckListQuery'] as { properties: Record<string, JsonSchema> };
  const imageQuery = schemas['ImageListQuery'] as { properties: Record<string, JsonSchema> };
  const id = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9]{1,15}$' } };
  return {
    openapi: '3.1.0',
    info: { title: 'imggate serve', version: VERSION, description: 'The gate in the registry push path: webhooks in, checks queued, verdicts out.' },
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token (serve.apiTokens); read or write scope' } } },
    paths: {
      '/v1/checks': {
        post: {
          summary: 'Ask for a check (write scope)',
          security: bearer,
          requestBody: { required: true, content: json(checkRequest) },
          responses: { '202': { description: 'Queued, or linked to the check already there', content: json(accepted) }, ...errors(400, 401, 403, 413, 415, 502) },
        },
        get: {
          summary: 'List checks, newest first (read scope)',
          security: bearer,
          parameters: Object.entries(query.properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
          responses: { '200': { description: 'A page', content: json(checkList) }, ...errors(400, 401, 403) },
        },
      },
      '/v1/checks/{id}': {
        get: { summary: 'One check, its events and verdicts (read scope)', security: bearer, parameters: [id], responses: { '200': { description: 'The check', content: json(checkResponse) }, ...errors(401, 403, 404) } },
      },
      '/v1/checks/{id}/retry': {
        post: { summary: 'Queue a failed check again (write scope)', security: bearer, parameters: [id], responses: { '200': { description: 'Queued', content: json(checkResponse) }, ...errors(401, 403, 404, 409) } },
      },
      '/v1/images': {
        get: {
          summary: 'The images known to be in the registries (from notifications and the reconcile loop) with their latest verdict, by registry, repository and digest (read scope)',
          security: bearer,
          parameters: Object.entries(imageQuery.properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
          responses: { '200': { description: 'A page', content: json(imageList) }, ...errors(400, 401, 403) },
        },
      },
      '/v1/images/{digest}': {
        get: {
          summary: 'The latest verdict for an image, its report and where its attestation was pushed (read scope)',
          security: bearer,
          parameters: [{ name: 'digest', in: 'path', required: true, schema: { type: 'string', pattern: '^sha256:[a-f0-9]{64}$' } }],
          responses: { '200': { description: 'The verdict', content: json(imageResponse) }, ...errors(401, 403, 404) },
        },
      },
      '/hooks/{receiver}': {
        post: {
          summary: 'A registry webhook (per-receiver authentication: token, Standard Webhooks signature, or /hooks/{receiver}/{secret})',
          parameters: [{ name: 'receiver', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'Nothing to check in it', content: json(accepted) }, '202': { description: 'Committed', content: json(accepted) }, ...errors(400, 401, 403, 413, 415) },
        },
      },
      '/healthz': { get: { summary: 'The process is up', responses: { '200': { description: 'ok' } } } },
      '/readyz': { get: { summary: 'The store answers and the workers run', responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain exposition format' } } } },
    },
  };
}
