import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { expectStatus, FOUNDATION_ENV } from '../harness/fixtures';
import { call, json } from '../harness/http';
import { useTestContext } from '../harness/test-context';

/** Every catalog and orders route of SPEC §3, as OpenAPI paths. */
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

describe('OpenAPI document and Swagger UI (SPEC §3)', () => {
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
