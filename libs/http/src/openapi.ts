import { applyDecorators, Headers } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  ApiHeader,
  ApiResponse,
  DocumentBuilder,
  OpenAPIObject,
  OperationObject,
  ParameterObject,
  ReferenceObject,
  ResponseObject,
  SchemaObject,
  SwaggerModule,
} from '@nestjs/swagger';

/**
 * The OpenAPI document every cachegate HTTP app serves at /docs-json, kept exact:
 * routes declare what is theirs (`@ApiErrors(…)`, `@IfMatch()`, `ApiCachedRead()`,
 * DTO metadata), and `completeDocument` adds once what every route shares because
 * this lib does it to every request (error bodies, body parsing errors, request ids,
 * closed request schemas). test/foundation/openapi.e2e-spec.ts checks every e2e
 * answer against it.
 */

/** Component name of the one error body schema. */
export const ERROR_BODY_SCHEMA = 'ErrorBody';

/** Nest's error body, as AllExceptionsFilter answers every error. */
const ERROR_BODY: SchemaObject = {
  type: 'object',
  description: "Every error answer: Nest's `{statusCode, message, error}`.",
  required: ['statusCode', 'message', 'error'],
  additionalProperties: false,
  properties: {
    statusCode: { type: 'integer', minimum: 400, maximum: 599, description: 'The HTTP status again', example: 400 },
    message: {
      description: 'What is wrong; input validation answers one message per problem, each naming its field',
      oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
      example: ['priceCents must be an integer number'],
    },
    error: { type: 'string', description: 'The status text', example: 'Bad Request' },
  },
};

/** What each status means when a route does not say more. */
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400:
    'Bad input: malformed JSON, a wrong type, an unknown field, a value out of range, NUL characters, a malformed ' +
    'path or query parameter; the message names the field',
  401: 'A missing or wrong admin bearer token (`Authorization: Bearer <ADMIN_TOKEN>`)',
  404: 'Not found',
  409: 'Conflict with the current state; or a concurrent update (serialization failure, lock not available): retry',
  412: 'If-Match does not match the current representation; nothing written',
  413: 'Request body over 100 KiB',
  415: 'Unsupported Content-Type (send application/json)',
  422: 'A referenced record does not exist',
  501: 'Not implemented',
  503: 'database unavailable: PostgreSQL refused, is unreachable or did not answer within DATABASE_TIMEOUT_MS',
};

export type ApiError = number | Partial<Record<number, string>>;

/**
 * The error answers of a route (or of every route of a controller), each with the
 * shared ErrorBody: `@ApiErrors(400, 503, { 404: 'product not found' })`. A bare
 * status takes its standard description.
 */
export function ApiErrors(...errors: ApiError[]): MethodDecorator & ClassDecorator {
  const responses: [number, string][] = errors.flatMap((e) =>
    typeof e === 'number'
      ? [[e, ERROR_DESCRIPTIONS[e] ?? '']]
      : Object.entries(e).map(([status, description]) => [Number(status), description ?? ''] as [number, string]),
  );
  return applyDecorators(...responses.map(([status, description]) => ApiResponse({ status, description })));
}

/** Request header of optimistic concurrency; Nest reads headers in lower case whatever the name's case. */
const IF_MATCH = 'If-Match';

/**
 * The handler parameter that receives `If-Match`, and its documentation: an
 * optional header (without it the write is unconditional) and the 412 a mismatch
 * answers. One decorator, so a route that reads the header cannot document it wrong.
 */
export function IfMatch(): ParameterDecorator {
  return (target, key, index) => {
    Headers(IF_MATCH)(target, key, index);
    if (key === undefined) return;
    const descriptor = Object.getOwnPropertyDescriptor(target, key)!;
    applyDecorators(
      ApiHeader({
        name: IF_MATCH,
        required: false,
        description:
          'Optimistic concurrency: the write proceeds only if the current representation has this ETag (strong ' +
          'comparison, `*` matches any); otherwise 412 and nothing is written. Without it the write is unconditional.',
        schema: { type: 'string', example: '"3q2-7w"' },
      }),
      ApiErrors(412),
    )(target, key, descriptor);
  };
}

/** The headers a cached read answers with (docs/contract.md §3.4). */
const CACHED_READ_HEADERS = {
  ETag: {
    required: true,
    description: 'Strong validator of the body: `"<base64url SHA-1 of the body>"`; send it back as If-None-Match',
    schema: { type: 'string' },
  },
  'X-Cache': {
    required: true,
    description:
      'HIT-L1 / HIT-L2: from the cache; MISS: this request (or the one it joined) read the source; STALE: an ' +
      'expired entry served within its grace period; BYPASS: cache disabled or unavailable',
    schema: { type: 'string', enum: ['HIT-L1', 'HIT-L2', 'MISS', 'STALE', 'BYPASS'] },
  },
};

/**
 * A GET served through the cache: `If-None-Match` and its 304. The success
 * answer gets the same ETag and X-Cache headers from completeDocument (an
 * `@ApiResponse` for it here would replace the type the swagger plugin reads
 * from the handler).
 */
export function ApiCachedRead(): MethodDecorator {
  return applyDecorators(
    ApiHeader({
      name: 'If-None-Match',
      required: false,
      description: 'ETags the client holds (weak comparison, `*` matches): the current one answers 304 without a body',
      schema: { type: 'string' },
    }),
    ApiResponse({
      status: 304,
      description: 'Not Modified: If-None-Match names the current ETag; no body',
      headers: CACHED_READ_HEADERS,
    }),
  );
}

/** No NUL characters: Postgres text and jsonb cannot store them, and the validation pipe refuses them anywhere. */
const NO_NUL = '^[^\\u0000]*$';
const BODY_METHODS = new Set(['post', 'put', 'patch', 'delete']);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const isRef = (value: unknown): value is ReferenceObject =>
  typeof value === 'object' && value !== null && '$ref' in value;

/**
 * Adds to a generated document what this lib does for every route, so that no
 * route has to repeat it (and none can forget it):
 *
 * - every error answer (status ≥ 400) without its own body schema has the shared ErrorBody;
 * - an operation whose method carries a body (POST, PUT, PATCH, DELETE: Fastify parses it before any
 *   route code) can answer 400 (malformed JSON), 413 (over the body limit) and 415 (unsupported type);
 * - every answer carries X-Request-Id (createFastifyAdapter);
 * - a success answer of an operation that answers 304 carries the 304's validators (ETag, X-Cache);
 * - request schemas are closed (`additionalProperties: false`: the validation pipe rejects unknown
 *   fields), and their free-text strings and string parameters exclude NUL (findUnacceptableInput).
 *
 * Response schemas of named components are closed too: each is a class that states a view's exact fields.
 */
export function completeDocument(document: OpenAPIObject): OpenAPIObject {
  const schemas = (document.components ??= {}).schemas ?? (document.components.schemas = {});
  schemas[ERROR_BODY_SCHEMA] = ERROR_BODY;
  const errorContent = { 'application/json': { schema: { $ref: `#/components/schemas/${ERROR_BODY_SCHEMA}` } } };

  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const operation: OperationObject | undefined = item[method];
      if (!operation) continue;
      const responses = operation.responses as Record<string, ResponseObject>;
      if (BODY_METHODS.has(method)) {
        for (const status of [400, 413, 415]) responses[status] ??= { description: ERROR_DESCRIPTIONS[status] };
      }
      const notModified = responses['304'];
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) >= 400 && !response.content) response.content = errorContent;
        if (notModified?.headers && /^2/.test(status))
          response.headers = { ...notModified.headers, ...response.headers };
        response.headers = {
          'X-Request-Id': {
            required: true,
            description: "The request's id: the caller's own X-Request-Id when it is well-formed, else a fresh UUID",
            schema: { type: 'string' },
          },
          ...response.headers,
        };
      }
      for (const parameter of (operation.parameters ?? []) as ParameterObject[]) {
        if (parameter.in !== 'header' && parameter.schema && !isRef(parameter.schema)) excludeNul(parameter.schema);
      }
      const body = operation.requestBody;
      if (body && !isRef(body)) {
        for (const media of Object.values(body.content)) if (media.schema) closeRequestSchema(media.schema, schemas);
      }
    }
  }
  for (const schema of Object.values(schemas)) if (!isRef(schema)) close(schema);
  return document;
}

function close(schema: SchemaObject): void {
  if (schema.properties && schema.additionalProperties === undefined) schema.additionalProperties = false;
}

function excludeNul(schema: SchemaObject): void {
  if (schema.type === 'string' && !schema.pattern && !schema.format && !schema.enum) schema.pattern = NO_NUL;
}

/** Closes a request schema and every schema it refers to; free-text strings exclude NUL. */
function closeRequestSchema(
  root: SchemaObject | ReferenceObject,
  schemas: Record<string, SchemaObject | ReferenceObject>,
): void {
  const seen = new Set<SchemaObject>();
  const stack = [root];
  while (stack.length > 0) {
    let schema = stack.pop()!;
    if (isRef(schema)) {
      const target = schemas[schema.$ref.replace('#/components/schemas/', '')];
      if (!target) continue;
      schema = target;
    }
    if (isRef(schema) || seen.has(schema)) continue;
    seen.add(schema);
    close(schema);
    excludeNul(schema);
    if (schema.items) stack.push(schema.items);
    for (const list of [schema.allOf, schema.oneOf, schema.anyOf]) if (list) stack.push(...list);
    if (schema.properties) stack.push(...Object.values(schema.properties));
  }
}

export interface OpenApiOptions {
  title: string;
  description: string;
  version?: string;
}

/** Builds the app's document (completed as above) and serves it at /docs-json, /docs-yaml and the UI at /docs. */
export function setUpOpenApi(app: NestFastifyApplication, options: OpenApiOptions): OpenAPIObject {
  const document = completeDocument(
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle(options.title)
        .setDescription(options.description)
        .setVersion(options.version ?? '1.0')
        .addBearerAuth({
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'opaque',
          description: 'ADMIN_TOKEN (admin routes only)',
        })
        .build(),
    ),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', yamlDocumentUrl: 'docs-yaml' });
  return document;
}
