import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createCategoryWithProduct, expectStatus, FOUNDATION_ENV, UNKNOWN_ID } from '../harness/fixtures';
import { call, json } from '../harness/http';
import { assertConforms, OpenApiDocument, pathTemplate, swaggerParserProblem } from '../harness/openapi-conformance';
import { useTestContext } from '../harness/test-context';

/** Every catalog and orders route of docs/contract.md §3, as OpenAPI paths. */
const EXPECTED_OPERATIONS: Record<string, string[]> = {
  '/catalog/categories': ['get', 'post'],
  '/catalog/categories/{id}': ['patch'],
  '/catalog/categories/{slug}/products': ['get'],
  '/catalog/products': ['post'],
  '/catalog/products/{id}': ['delete', 'get', 'patch', 'put'],
  '/catalog/products/{id}/availability': ['get'],
  '/catalog/products/{id}/stock': ['put'],
  '/accounts/{accountId}/orders': ['get'],
  '/orders': ['post'],
  '/orders/{id}': ['delete', 'get', 'patch'],
  '/orders/{id}/items': ['post'],
  '/orders/{id}/items/{itemId}': ['delete', 'patch'],
};

/** Every status each operation answers (docs/contract.md §3.5); the document must list exactly these. */
const EXPECTED_STATUSES: Record<string, number[]> = {
  'GET /catalog/categories': [200, 304, 503],
  'POST /catalog/categories': [201, 400, 409, 413, 415, 422, 503],
  'PATCH /catalog/categories/{id}': [200, 400, 404, 409, 413, 415, 503],
  'GET /catalog/categories/{slug}/products': [200, 304, 400, 404, 503],
  'GET /catalog/products/{id}': [200, 304, 400, 404, 503],
  'GET /catalog/products/{id}/availability': [200, 304, 400, 404, 503],
  'POST /catalog/products': [201, 400, 409, 413, 415, 422, 503],
  'PUT /catalog/products/{id}': [200, 400, 404, 409, 412, 413, 415, 422, 503],
  'PATCH /catalog/products/{id}': [200, 400, 404, 409, 412, 413, 415, 422, 503],
  'PUT /catalog/products/{id}/stock': [200, 400, 404, 409, 412, 413, 415, 503],
  'DELETE /catalog/products/{id}': [204, 400, 404, 409, 412, 413, 415, 503],
  'GET /accounts/{accountId}/orders': [200, 304, 400, 503],
  'GET /orders/{id}': [200, 304, 400, 404, 503],
  'POST /orders': [201, 400, 409, 413, 415, 422, 503],
  'PATCH /orders/{id}': [200, 400, 404, 409, 412, 413, 415, 503],
  'DELETE /orders/{id}': [204, 400, 404, 409, 412, 413, 415, 503],
  'POST /orders/{id}/items': [201, 400, 404, 409, 412, 413, 415, 422, 503],
  'PATCH /orders/{id}/items/{itemId}': [200, 400, 404, 409, 412, 413, 415, 503],
  'DELETE /orders/{id}/items/{itemId}': [200, 400, 404, 409, 412, 413, 415, 503],
  'GET /accounts/{accountId}/invoices': [200, 304, 400, 503],
  'GET /health': [200, 503],
  'GET /health/{domain}/cache': [200, 400, 404],
  'GET /health/cdc': [200, 503],
  'GET /admin/cache/usage': [200, 400, 401, 404, 503],
  'DELETE /admin/cache': [200, 400, 401, 404, 413, 415, 503],
  'GET /admin/cdc/dead-letters': [200, 400, 401, 404, 503],
  'POST /admin/cdc/dead-letters/redrive': [200, 400, 401, 404, 413, 415, 503],
};

/** The writes that take If-Match (docs/contract.md §3.4). */
const IF_MATCH_OPERATIONS = [
  'put /catalog/products/{id}',
  'patch /catalog/products/{id}',
  'delete /catalog/products/{id}',
  'put /catalog/products/{id}/stock',
  'patch /orders/{id}',
  'delete /orders/{id}',
  'post /orders/{id}/items',
  'patch /orders/{id}/items/{itemId}',
  'delete /orders/{id}/items/{itemId}',
];

const CACHED_READS = [
  '/catalog/categories',
  '/catalog/categories/{slug}/products',
  '/catalog/products/{id}',
  '/catalog/products/{id}/availability',
  '/accounts/{accountId}/orders',
  '/orders/{id}',
  '/accounts/{accountId}/invoices',
];

function operations(doc: OpenApiDocument): { method: string; path: string; op: any }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries<any>(item).map(([method, op]) => ({ method, path, op })),
  );
}

/** A schema, or the component a `$ref` names. */
function resolve(doc: any, schema: any): any {
  return schema?.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema;
}

function bodySchemaOf(doc: any, path: string, method: string): any {
  return resolve(doc, doc.paths[path][method].requestBody.content['application/json'].schema);
}

describe('OpenAPI document and Swagger UI (docs/contract.md §3)', () => {
  const ctx = useTestContext();
  let app: NestFastifyApplication;
  let doc: any;

  beforeAll(async () => {
    app = await ctx().startBff(FOUNDATION_ENV);
    const res = await call(app, 'GET', '/docs-json');
    expectStatus(res, 200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    doc = json(res);
  });

  it('is an OpenAPI 3 document', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(typeof doc.info.title).toBe('string');
  });

  it('lists every catalog and orders route with its methods', () => {
    for (const [path, methods] of Object.entries(EXPECTED_OPERATIONS)) {
      expect({ path, methods: Object.keys(doc.paths[path] ?? {}).sort() }).toEqual({ path, methods });
    }
  });

  it('tags the operations by domain', () => {
    for (const [path, methods] of Object.entries(EXPECTED_OPERATIONS)) {
      const tagName = path.startsWith('/catalog') ? 'catalog' : 'orders';
      for (const method of methods)
        expect({ path, method, tags: doc.paths[path][method].tags }).toEqual({ path, method, tags: [tagName] });
    }
  });

  it('documents path parameters and request bodies from the DTOs', () => {
    const params = (path: string, method: string) =>
      doc.paths[path][method].parameters
        .filter((p: any) => p.in === 'path')
        .map((p: any) => `${p.in}:${p.name}`)
        .sort();
    expect(params('/orders/{id}/items/{itemId}', 'patch')).toEqual(['path:id', 'path:itemId']);
    expect(params('/accounts/{accountId}/orders', 'get')).toEqual(['path:accountId']);
    expect(params('/catalog/categories/{slug}/products', 'get')).toEqual(['path:slug']);

    const bodySchema = (path: string, method: string) => {
      const ref: string = doc.paths[path][method].requestBody.content['application/json'].schema.$ref;
      return doc.components.schemas[ref.split('/').pop()!];
    };
    const createProduct = bodySchema('/catalog/products', 'post');
    expect(Object.keys(createProduct.properties).sort()).toEqual(
      ['active', 'categoryId', 'currency', 'description', 'name', 'priceCents', 'sku', 'stock'].sort(),
    );
    expect([...createProduct.required].sort()).toEqual(['categoryId', 'currency', 'name', 'priceCents', 'sku']);
    expect(bodySchema('/catalog/products/{id}', 'patch').required ?? []).toEqual([]);
    const createOrder = bodySchema('/orders', 'post');
    expect([...createOrder.required].sort()).toEqual([
      'accountId',
      'currency',
      'customerEmail',
      'items',
      'shippingAddress',
    ]);
    expect(bodySchema('/orders/{id}', 'patch').properties.status.enum).toEqual([
      'pending',
      'paid',
      'shipped',
      'delivered',
      'cancelled',
    ]);
    expect(bodySchema('/catalog/products/{id}/stock', 'put').required).toEqual(['quantity']);
  });

  it('passes @apidevtools/swagger-parser validation', async () => {
    expect(await swaggerParserProblem(doc)).toBeUndefined();
  });

  it('declares every parameter of every path template, as a required path parameter', () => {
    const problems: string[] = [];
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries<any>(item)) {
        const declared = (op.parameters ?? []).filter((p: any) => p.in === 'path');
        const names = declared.map((p: any) => p.name).sort();
        if (JSON.stringify(names) !== JSON.stringify(inTemplate))
          problems.push(`${method} ${path}: declares [${names}]`);
        for (const p of declared) if (p.required !== true) problems.push(`${method} ${path}: ${p.name} not required`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('names catalog, orders and invoices in its description; every operation has a summary', () => {
    expect(doc.info.description).toMatch(/catalog/i);
    expect(doc.info.description).toMatch(/orders/i);
    expect(doc.info.description).toMatch(/invoices/i);
    const missing = operations(doc)
      .filter(({ op }) => typeof op.summary !== 'string' || op.summary.trim() === '')
      .map(({ method, path }) => `${method} ${path}`);
    expect(missing).toEqual([]);
  });

  it('documents every status each operation answers, errors with the one shared ErrorBody schema', () => {
    const actual = Object.fromEntries(
      Object.keys(EXPECTED_STATUSES).map((operation) => {
        const [method, path] = operation.split(' ');
        return [operation, Object.keys(doc.paths[path]?.[method.toLowerCase()]?.responses ?? {}).map(Number)];
      }),
    );
    expect(actual).toEqual(EXPECTED_STATUSES);

    expect(doc.components.schemas.ErrorBody).toMatchObject({
      type: 'object',
      required: ['statusCode', 'message', 'error'],
      additionalProperties: false,
    });
    const wrong: string[] = [];
    for (const { method, path, op } of operations(doc)) {
      for (const [status, response] of Object.entries<any>(op.responses)) {
        // Terminus documents its own 503 body: the failed checks.
        if (Number(status) < 400 || (path === '/health' && status === '503')) continue;
        const ref = response.content?.['application/json']?.schema?.$ref;
        if (ref !== '#/components/schemas/ErrorBody') wrong.push(`${method} ${path} ${status}: ${ref}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('documents If-Match as an optional header wherever a write reads it, with the 412 of a mismatch', () => {
    const withIfMatch = operations(doc)
      .filter(({ op }) => (op.parameters ?? []).some((p: any) => p.in === 'header' && /^if-match$/i.test(p.name)))
      .map(({ method, path, op }) => {
        const ifMatch = op.parameters.find((p: any) => /^if-match$/i.test(p.name));
        return { operation: `${method} ${path}`, required: ifMatch.required ?? false, has412: '412' in op.responses };
      });
    expect(withIfMatch.sort((a, b) => a.operation.localeCompare(b.operation))).toEqual(
      IF_MATCH_OPERATIONS.map((operation) => ({ operation, required: false, has412: true })).sort((a, b) =>
        a.operation.localeCompare(b.operation),
      ),
    );
  });

  it('states the constraints the API enforces on request bodies', () => {
    const product = bodySchemaOf(doc, '/catalog/products', 'post');
    expect(product.additionalProperties).toBe(false);
    expect(product.properties.priceCents).toMatchObject({ type: 'integer', minimum: 0, maximum: 2_147_483_647 });
    expect(product.properties.stock).toMatchObject({ type: 'integer', minimum: 0 });
    expect(product.properties.currency.pattern).toBe('^[A-Z]{3}$');
    expect(product.properties.sku.pattern).toBe('^[A-Z0-9-]{1,64}$');
    expect(product.properties.categoryId.format).toBe('uuid');
    // No NUL characters in free text (the validation pipe refuses them anywhere).
    expect(new RegExp(product.properties.name.pattern, 'u').test('Bad\u0000Name')).toBe(false);
    expect(new RegExp(product.properties.name.pattern, 'u').test('Good Name')).toBe(true);
    for (const [path, method] of [
      ['/catalog/products/{id}', 'put'],
      ['/catalog/products/{id}', 'patch'],
    ])
      expect(bodySchemaOf(doc, path, method).properties.priceCents.type).toBe('integer');
    expect(bodySchemaOf(doc, '/catalog/products/{id}/stock', 'put').properties.quantity.type).toBe('integer');

    const category = bodySchemaOf(doc, '/catalog/categories', 'post');
    expect(category.additionalProperties).toBe(false);
    expect(category.properties.slug.pattern).toBe('^[a-z0-9-]{1,64}$');

    const order = bodySchemaOf(doc, '/orders', 'post');
    expect(order.additionalProperties).toBe(false);
    expect(order.properties.accountId.pattern).toBe('^[A-Za-z0-9_-]{1,64}$');
    expect(order.properties.currency.pattern).toBe('^[A-Z]{3}$');
    expect(order.properties.customerEmail).toMatchObject({ format: 'email', maxLength: 254 });
    expect(order.properties.items).toMatchObject({ type: 'array', minItems: 1, maxItems: 100, uniqueItems: true });
    expect(order.properties.items.description).toMatch(/productId may appear once/);
    const address = resolve(doc, order.properties.shippingAddress);
    expect(address.additionalProperties).toBe(false);
    expect(address.properties.country.pattern).toBe('^[A-Za-z]{2}$');
    const line = resolve(doc, order.properties.items.items);
    expect(line.additionalProperties).toBe(false);
    expect(line.properties.quantity).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000 });
    expect(bodySchemaOf(doc, '/orders/{id}/items/{itemId}', 'patch').properties.quantity.type).toBe('integer');

    // Every request body, nested objects included, is closed: unknown fields are a 400.
    const open: string[] = [];
    for (const { method, path, op } of operations(doc)) {
      const schema = op.requestBody?.content?.['application/json']?.schema;
      if (!schema) continue;
      const stack = [schema];
      while (stack.length > 0) {
        const s = resolve(doc, stack.pop());
        if (s.type === 'object' && s.additionalProperties !== false) open.push(`${method} ${path}`);
        stack.push(...Object.values<any>(s.properties ?? {}));
        if (s.items) stack.push(s.items);
      }
    }
    expect(open).toEqual([]);
  });

  it('documents the parameters of the health and admin routes', () => {
    const param = (path: string, method: string, name: string) =>
      doc.paths[path][method].parameters.find((p: any) => p.name === name);
    expect(param('/health/{domain}/cache', 'get', 'domain')).toMatchObject({
      in: 'path',
      required: true,
      schema: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,63}$' },
    });
    for (const [path, method] of [
      ['/admin/cache/usage', 'get'],
      ['/admin/cache', 'delete'],
    ]) {
      expect(param(path, method, 'pattern')).toMatchObject({ in: 'query', required: true });
      expect(param(path, method, 'pattern').schema).toMatchObject({ type: 'string', maxLength: 256 });
      expect(doc.paths[path][method].security).toEqual([{ bearer: [] }]);
    }
    expect(param('/admin/cdc/dead-letters', 'get', 'stream')).toMatchObject({ in: 'query', required: true });
    expect(param('/admin/cdc/dead-letters', 'get', 'limit')).toMatchObject({
      in: 'query',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: 1000 },
    });
    expect(param('/admin/cdc/dead-letters', 'get', 'after').schema.pattern).toBe('^\\d{1,20}-\\d{1,20}$');
    const redrive = bodySchemaOf(doc, '/admin/cdc/dead-letters/redrive', 'post');
    expect(redrive).toMatchObject({ additionalProperties: false, required: ['stream'] });
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.bearer.bearerFormat).not.toBe('JWT');
  });

  it('documents If-None-Match, the 304 and the ETag and X-Cache headers of every cached read', () => {
    for (const path of CACHED_READS) {
      const op = doc.paths[path].get;
      expect({ path, header: op.parameters.find((p: any) => p.name === 'If-None-Match')?.required ?? false }).toEqual({
        path,
        header: false,
      });
      for (const status of ['200', '304']) {
        const headers = op.responses[status].headers;
        expect({ path, status, etag: headers.ETag?.required, xcache: headers['X-Cache']?.schema.enum }).toEqual({
          path,
          status,
          etag: true,
          xcache: ['HIT-L1', 'HIT-L2', 'MISS', 'STALE', 'BYPASS'],
        });
      }
    }
  });

  it('answers a method a path does not support with 405 and Allow: the methods the document lists', async () => {
    const { product } = await createCategoryWithProduct(app);
    const cases: [string, string][] = [
      ['TRACE', '/health'],
      ['DELETE', '/catalog/categories'],
      ['POST', `/catalog/products/${product.id}`],
      ['PUT', `/orders/${UNKNOWN_ID}`],
      ['GET', '/orders'],
    ];
    for (const [method, url] of cases) {
      // light-my-request types no TRACE; this test is about the 405 itself, outside the document.
      const res = await app.inject({ method: method as 'GET', url });
      const template = pathTemplate(doc, url)!;
      const documented = Object.keys(doc.paths[template]).map((m) => m.toUpperCase());
      const expected = [...documented, ...(documented.includes('GET') ? ['HEAD'] : [])].sort().join(', ');
      expect({ method, url, status: res.statusCode, allow: res.headers.allow }).toEqual({
        method,
        url,
        status: 405,
        allow: expected,
      });
      expect(json(res)).toEqual({
        statusCode: 405,
        message: expect.stringContaining(method),
        error: 'Method Not Allowed',
      });
    }
    // A path no route has stays a 404.
    const unknown = await call(app, 'PUT', '/no-such-path', undefined, {}, { conformance: false });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers.allow).toBeUndefined();
  });

  it('the conformance check fails an answer the document does not allow', async () => {
    const { product } = await createCategoryWithProduct(app);
    const url = `/catalog/products/${product.id}`;
    const real = await call(app, 'GET', url);
    expect(() => assertConforms(doc, 'GET', url, real)).not.toThrow();
    // A status the operation does not document.
    expect(() => assertConforms(doc, 'GET', url, { ...real, statusCode: 418 })).toThrow(/status 418 is not documented/);
    // A field the schema does not have, and one of the wrong type.
    const extra = JSON.stringify({ ...json(real), surprise: 1 });
    expect(() => assertConforms(doc, 'GET', url, { ...real, body: extra })).toThrow(/does not match/);
    const wrongType = JSON.stringify({ ...json(real), priceCents: 1.5 });
    expect(() => assertConforms(doc, 'GET', url, { ...real, body: wrongType })).toThrow(/priceCents/);
    // A required response header missing.
    const { etag: _etag, ...withoutEtag } = real.headers;
    expect(() => assertConforms(doc, 'GET', url, { ...real, headers: withoutEtag })).toThrow(/ETag is missing/);
    // An error body that is not the ErrorBody.
    const notFound = { statusCode: 404, headers: real.headers, body: JSON.stringify({ oops: true }) };
    expect(() => assertConforms(doc, 'GET', url, notFound)).toThrow(/does not match/);
    // An operation the path does not have.
    expect(() => assertConforms(doc, 'POST', url, real)).toThrow(/documents no POST operation/);
  });

  it('GET /docs answers 200 with the Swagger UI page', async () => {
    const res = await call(app, 'GET', '/docs');
    expectStatus(res, 200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toMatch(/<html/i);
    expect(res.body).toMatch(/swagger-ui/i);
    const init = await call(app, 'GET', '/docs/swagger-ui-init.js');
    expectStatus(init, 200);
  });
});
