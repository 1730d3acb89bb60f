import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LightMyRequestResponse as Response } from 'fastify';
import { parseDatabaseUrl, withDatabase } from '@app/database';
import { eventually } from '../../tools/eventually';
import {
  countRows,
  createCategoryWithProduct,
  createOrder,
  expectStatus,
  FOUNDATION_ENV,
  orderBody,
  ProductBody,
  productBody,
  snapshotDatabase,
  tag,
} from '../harness/fixtures';
import { call, HttpMethod, json } from '../harness/http';
import { TcpProxy } from '../../tools/tcp-proxy';
import { useTestContext } from '../harness/test-context';

/** A refused connection must turn into a 503 at once; nothing here may wait for a timeout. */
const REFUSED_BUDGET_MS = 2000;
/** A server that accepts and never answers is given up after the 3 s connect timeout (libs/database). */
const HUNG_BUDGET_MS = 5000;

describe('Postgres unreachable → 503 "database unavailable" (docs/contract.md §3 errors)', () => {
  const ctx = useTestContext();
  let proxy: TcpProxy;
  let app: NestFastifyApplication;
  let product: ProductBody;
  let categoryId: string;
  let orderId: string;

  beforeAll(async () => {
    const { host, port } = parseDatabaseUrl(ctx().databaseUrl);
    proxy = await TcpProxy.start({ host, port });
    const url = new URL(withDatabase(ctx().databaseUrl, ctx().databaseName));
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    app = await ctx().startBff({ ...FOUNDATION_ENV, DATABASE_URL: url.toString() });
    const created = await createCategoryWithProduct(app, { stock: 50 });
    product = created.product;
    categoryId = created.category.id;
    orderId = (await createOrder(app, [{ productId: product.id, quantity: 1 }])).id;
    // Everything so far went through the proxy.
    expect(proxy.openSockets).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await proxy?.close();
  });

  /** Requests never read before the outage (so no cache could answer them), reads and writes. */
  const requests = (): [HttpMethod, string, unknown][] => [
    ['GET', `/catalog/products/${product.id}`, undefined],
    ['GET', `/catalog/products/${product.id}/availability`, undefined],
    ['GET', '/catalog/categories', undefined],
    ['GET', `/orders/${orderId}`, undefined],
    ['GET', `/accounts/acct-${tag()}/orders`, undefined],
    ['POST', '/catalog/categories', { slug: `down-${tag()}`, name: 'Down' }],
    ['POST', '/catalog/products', productBody(categoryId, { stock: 1 })],
    ['PATCH', `/catalog/products/${product.id}`, { name: 'Written While Down' }],
    ['PUT', `/catalog/products/${product.id}/stock`, { quantity: 1 }],
    ['POST', '/orders', orderBody([{ productId: product.id, quantity: 1 }])],
    ['PATCH', `/orders/${orderId}`, { status: 'paid' }],
    ['DELETE', `/orders/${orderId}`, undefined],
  ];

  async function timed(method: HttpMethod, url: string, body?: unknown): Promise<{ res: Response; ms: number }> {
    const started = Date.now();
    const res = await call(app, method, url, body);
    return { res, ms: Date.now() - started };
  }

  function expectUnavailable(label: string, res: Response, ms: number, budget: number): void {
    expect({ label, status: res.statusCode, message: json(res).message }).toEqual({
      label,
      status: 503,
      message: 'database unavailable',
    });
    expect({ label, fast: ms < budget }).toEqual({ label, fast: true });
  }

  async function expectRecovered(): Promise<void> {
    // The pool reconnects on the next request; allow it a few attempts, then demand steady 200s.
    await eventually(async () => expectStatus(await call(app, 'GET', `/catalog/products/${product.id}`), 200), {
      timeoutMs: 5000,
      intervalMs: 100,
      message: 'a read to succeed again',
    });
    const res = await call(app, 'GET', `/catalog/products/${product.id}`);
    expectStatus(res, 200);
    expect(json(res)).toEqual(product);
    expectStatus(await call(app, 'GET', `/orders/${orderId}`), 200);
    const health = await call(app, 'GET', '/health');
    expectStatus(health, 200);
    expect(json(health).details.database.status).toBe('up');
    const write = await call(app, 'PUT', `/catalog/products/${product.id}/stock`, { quantity: 50 });
    expectStatus(write, 200);
  }

  it('refused connections: every read and write answers 503 at once, /health reports the database down', async () => {
    const before = await snapshotDatabase(ctx().sql); // ctx().sql is direct, not through the proxy
    await proxy.cut();
    try {
      for (const [method, url, body] of requests()) {
        const { res, ms } = await timed(method, url, body);
        expectUnavailable(`${method} ${url}`, res, ms, REFUSED_BUDGET_MS);
        expect(json(res)).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
      }
      const { res: health, ms } = await timed('GET', '/health');
      expect(health.statusCode).toBe(503);
      expect(ms).toBeLessThan(REFUSED_BUDGET_MS);
      expect(json(health)).toMatchObject({
        status: 'error',
        error: { database: { status: 'down' } },
        details: { database: { status: 'down' } },
      });
      // Validation needs no database: bad input is still a 400, not a 503.
      expectStatus(await call(app, 'POST', '/catalog/products', { priceCents: '12' }), 400);
    } finally {
      await proxy.restore();
    }
    // Nothing was written during the outage.
    expect(await snapshotDatabase(ctx().sql)).toEqual(before);
  });

  it('recovers once Postgres is reachable again', async () => {
    // An outage of its own: it does not rely on the test before it to have left one behind.
    await proxy.cut();
    try {
      const { res } = await timed('GET', `/catalog/products/${product.id}`);
      expect(res.statusCode).toBe(503);
    } finally {
      await proxy.restore();
    }
    await expectRecovered();
  });

  it('connections that hang (accepted, never answered): 503 within the connect timeout, never a hang', async () => {
    const before = await countRows(ctx().sql, 'catalog.categories');
    await proxy.blackhole();
    try {
      const [read, write, health] = await Promise.all([
        timed('GET', `/catalog/products/${product.id}/availability`),
        timed('POST', '/catalog/categories', { slug: `hung-${tag()}`, name: 'Hung' }),
        timed('GET', '/health'),
      ]);
      expectUnavailable('GET availability', read.res, read.ms, HUNG_BUDGET_MS);
      expectUnavailable('POST category', write.res, write.ms, HUNG_BUDGET_MS);
      expect(health.res.statusCode).toBe(503);
      // The health probe has its own 1 s budget.
      expect(health.ms).toBeLessThan(2500);
      expect(json(health.res).details.database.status).toBe('down');
    } finally {
      await proxy.restore();
    }
    expect(await countRows(ctx().sql, 'catalog.categories')).toBe(before);
    await expectRecovered();
  });
});
