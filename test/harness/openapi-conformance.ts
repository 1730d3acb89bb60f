import { execFile } from 'node:child_process';
import path from 'node:path';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * Checks answers against the OpenAPI document the app itself serves: the
 * status must be documented for the operation, a documented JSON body must
 * match its schema (and an undocumented body must not be there), and required
 * response headers must be present and match theirs. test/harness/http.ts
 * `call()` runs it on every response, so a drift between the code and
 * /docs-json fails the test that saw it.
 *
 *   const doc = await openApiDocument(app);          // fetched once per app instance
 *   assertConforms(doc, 'GET', '/orders/…', res);    // throws, naming what differs
 */

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; description?: string };
  paths: Record<string, Record<string, any>>;
  components?: { schemas?: Record<string, unknown> };
}

/** What the checker reads of an answer (light-my-request's response has it). */
export interface CheckedResponse {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/** Paths the apps serve on purpose outside their document: the document itself, Swagger UI, Prometheus. */
const UNDOCUMENTED_PATHS = [/^\/docs(?:-json|-yaml)?(?:\/.*)?$/, /^\/metrics$/];

const documents = new WeakMap<NestFastifyApplication, Promise<OpenApiDocument>>();

/** The app's /docs-json, fetched on first use and kept for the app instance's life. */
export function openApiDocument(app: NestFastifyApplication): Promise<OpenApiDocument> {
  let doc = documents.get(app);
  if (!doc) {
    doc = app.inject({ method: 'GET', url: '/docs-json' }).then((res) => {
      if (res.statusCode !== 200)
        throw new Error(`GET /docs-json answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
      return JSON.parse(res.body) as OpenApiDocument;
    });
    documents.set(app, doc);
    // A failed fetch is not kept: the next call asks again.
    doc.catch(() => documents.delete(app));
  }
  return doc;
}

/** Checks an answer of `app` (see assertConforms); paths served outside the document are skipped. */
export async function checkConformance(
  app: NestFastifyApplication,
  method: string,
  url: string,
  res: CheckedResponse,
): Promise<void> {
  if (UNDOCUMENTED_PATHS.some((p) => p.test(url.split('?')[0]))) return;
  assertConforms(await openApiDocument(app), method, url, res);
}

interface Compiled {
  ajv: Ajv;
  validators: Map<string, ValidateFunction>;
  templates: { template: string; matcher: RegExp; literal: number }[];
}

const compiled = new WeakMap<OpenApiDocument, Compiled>();

function compiledFor(doc: OpenApiDocument): Compiled {
  let c = compiled.get(doc);
  if (!c) {
    // OpenAPI 3.0 schemas: `nullable` is an Ajv keyword; `example` and the like are annotations (strict off).
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const templates = Object.keys(doc.paths).map((template) => ({
      template,
      matcher: new RegExp(
        `^${template
          .split(/(\{[^}]+\})/)
          .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
          .join('')}$`,
      ),
      literal: template.replace(/\{[^}]+\}/g, '').length,
    }));
    c = { ajv, validators: new Map(), templates };
    compiled.set(doc, c);
  }
  return c;
}

/** The document's path template for a concrete path; the most literal one when several match (`/a/b` over `/a/{x}`). */
export function pathTemplate(doc: OpenApiDocument, url: string): string | undefined {
  const path = url.split('?')[0];
  let best: { template: string; literal: number } | undefined;
  for (const t of compiledFor(doc).templates) {
    if (t.matcher.test(path) && (!best || t.literal > best.literal)) best = t;
  }
  return best?.template;
}

function validator(doc: OpenApiDocument, key: string, schema: unknown): ValidateFunction {
  const c = compiledFor(doc);
  let validate = c.validators.get(key);
  if (!validate) {
    // `#/components/...` references resolve against this wrapper's root, which carries the document's components.
    validate = c.ajv.compile({ allOf: [schema], components: doc.components ?? {} });
    c.validators.set(key, validate);
  }
  return validate;
}

function header(res: CheckedResponse, name: string): string | undefined {
  const value = res.headers[name.toLowerCase()];
  return value === undefined ? undefined : Array.isArray(value) ? value.join(', ') : String(value);
}

/**
 * Throws unless `res` is an answer the document allows for `method url`: a
 * documented path and operation (HEAD is checked as GET, without a body), a
 * documented status, a JSON body matching the status's schema (no body where
 * none is documented), and every required response header, matching its schema.
 */
export function assertConforms(doc: OpenApiDocument, method: string, url: string, res: CheckedResponse): void {
  const head = method.toUpperCase() === 'HEAD';
  const where = `${method.toUpperCase()} ${url} → ${res.statusCode}`;
  const fail = (problem: string): never => {
    throw new Error(
      `OpenAPI conformance: ${where}: ${problem}\n  body: ${res.body.slice(0, 500)}\n` +
        '  (fix the document where the code is right; see test/harness/openapi-conformance.ts)',
    );
  };
  const template = pathTemplate(doc, url);
  if (!template) return fail('the path is not in the document');
  const operation = doc.paths[template][head ? 'get' : method.toLowerCase()];
  if (!operation) return fail(`${template} documents no ${method.toUpperCase()} operation`);
  const status = String(res.statusCode);
  const responses: Record<string, any> = operation.responses ?? {};
  const documented = responses[status] ?? responses[`${status[0]}XX`] ?? responses.default;
  if (!documented) {
    return fail(
      `status ${status} is not documented for ${method.toUpperCase()} ${template} (documented: ${Object.keys(responses).join(', ')})`,
    );
  }
  const key = `${method.toLowerCase()} ${template} ${status}`;

  for (const [name, spec] of Object.entries<any>(documented.headers ?? {})) {
    const value = header(res, name);
    if (value === undefined) {
      if (spec.required) fail(`required response header ${name} is missing`);
      continue;
    }
    if (spec.schema) {
      const validate = validator(doc, `${key} header ${name}`, spec.schema);
      if (!validate(value)) fail(`header ${name}: ${JSON.stringify(value)} ${validate.errors?.[0]?.message}`);
    }
  }

  if (head || res.body.length === 0) {
    // 204, 304 and HEAD answers carry no body; a documented body that is missing is a failure of its own.
    const json = documented.content?.['application/json'];
    if (json && !head && res.statusCode !== 204 && res.statusCode !== 304) fail('the documented JSON body is missing');
    return;
  }
  const content: Record<string, any> | undefined = documented.content;
  if (!content) return fail('the answer has a body but the document describes none for this status');
  const contentType = header(res, 'content-type') ?? '';
  const media = Object.keys(content).find((type) => contentType.startsWith(type));
  if (!media)
    return fail(`content-type ${contentType} is not documented (documented: ${Object.keys(content).join(', ')})`);
  const schema = content[media].schema;
  if (!schema || !media.includes('json')) return;
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return fail('the body is not JSON');
  }
  const validate = validator(doc, key, schema);
  if (!validate(body)) {
    const problems = (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
    fail(`the body does not match the documented schema:\n    ${problems.join('\n    ')}`);
  }
}

const ROOT = path.resolve(__dirname, '../..');

/**
 * `SwaggerParser.validate(doc)` (@apidevtools/swagger-parser): the document
 * against the OpenAPI 3 schema, with its $refs resolved. Runs in a plain Node
 * process: the parser loads an ES module (json-schema-ref-parser) that Jest's
 * CommonJS module loader cannot, while Node ≥ 20.19 requires it natively.
 * Resolves with the parser's error message, or undefined when the document is valid.
 */
export function swaggerParserProblem(doc: OpenApiDocument): Promise<string | undefined> {
  const script = `
    let text = '';
    process.stdin.on('data', (chunk) => (text += chunk)).on('end', () =>
      require('@apidevtools/swagger-parser')
        .validate(JSON.parse(text))
        .then(() => process.stdout.write(JSON.stringify({ valid: true })),
              (err) => process.stdout.write(JSON.stringify({ valid: false, message: String(err.message) }))));`;
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['-e', script], { cwd: ROOT, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`swagger-parser did not run: ${err.message}\n${stderr}`));
      const outcome = JSON.parse(stdout) as { valid: boolean; message?: string };
      resolve(outcome.valid ? undefined : (outcome.message ?? 'invalid'));
    });
    child.stdin!.end(JSON.stringify(doc));
  });
}
