import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LightMyRequestResponse as Response } from 'fastify';
import { PoolClient } from 'pg';
import { parseDatabaseUrl, withDatabase } from '@app/database';
import { eventually } from '../../tools/eventually';
import {
  countRows,
  createCategoryWithProduct,
  createOrder,
  createProduct,
  expectStatus,
  FOUNDATION_ENV,
  orderBody,
  ProductBody,
  productBody,
  snapshotDatabase,
  stockOf,
  tag,
} from '../harness/fixtures';
import { call, HttpMethod, json } from '../harness/http';
import { TcpProxy } from '../../tools/tcp-proxy';
import { useTestContext } from '../harness/test-context';

/** Small, so that the hangs below cost little; the contract's bound is DATABASE_TIMEOUT_MS + 1 s per request. */
const TIMEOUT_MS = 1000;
/**
 * The instance for the tests that stop a write at a chosen statement inside Postgres and then hang the
 * connection: Postgres must not cancel that statement (statement_timeout) before the test has done its steps.
 */
const ROOMY_TIMEOUT_MS = 3000;
const budget = (timeoutMs: number) => timeoutMs + 1000;
const UNKNOWN_OUTCOME = /may have been applied.*same Idempotency-Key/;

describe('Postgres that hangs (bytes held, nothing closed) → 503 within DATABASE_TIMEOUT_MS (docs/contract.md §3 errors)', () => {
  const ctx = useTestContext();
  let proxy: TcpProxy;
  /** DATABASE_TIMEOUT_MS=1000 */
  let app: NestFastifyApplication;
  /** DATABASE_TIMEOUT_MS=3000 */
  let roomy: NestFastifyApplication;
  let product: ProductBody;
  let other: ProductBody;
  let categoryId: string;
  let orderId: string;

  beforeAll(async () => {
    const { host, port } = parseDatabaseUrl(ctx().databaseUrl);
    proxy = await TcpProxy.start({ host, port });
    const url = new URL(withDatabase(ctx().databaseUrl, ctx().databaseName));
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const env = { ...FOUNDATION_ENV, DATABASE_URL: url.toString() };
    app = await ctx().startBff({ ...env, DATABASE_TIMEOUT_MS: String(TIMEOUT_MS) });
    roomy = await ctx().startBff({ ...env, DATABASE_TIMEOUT_MS: String(ROOMY_TIMEOUT_MS) });
    const created = await createCategoryWithProduct(app, { stock: 50 });
    product = created.product;
    categoryId = created.category.id;
    other = await createProduct(app, categoryId, { stock: 50 });
    orderId = (await createOrder(app, [{ productId: product.id, quantity: 1 }])).id;
    expect(proxy.openSockets).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await proxy?.close();
  });

  async function timed(
    bff: NestFastifyApplication,
    method: HttpMethod,
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ res: Response; ms: number }> {
    const started = Date.now();
    const res = await call(bff, method, url, body, headers);
    return { res, ms: Date.now() - started };
  }

  function expectUnavailable(label: string, res: Response, ms: number, budgetMs: number): void {
    expect({ label, status: res.statusCode, message: json(res).message }).toEqual({
      label,
      status: 503,
      message: 'database unavailable',
    });
    expect({ label, ms, withinBudget: ms <= budgetMs }).toEqual({ label, ms, withinBudget: true });
  }

  /** What a write leaves behind: every catalog/orders row and the number of captured changes. */
  async function everythingWritten(): Promise<unknown> {
    return { tables: await snapshotDatabase(ctx().sql), outbox: await countRows(ctx().sql, 'cdc.outbox') };
  }

  /** Reads answer again once the proxy forwards (the pool replaces the connections it dropped). */
  async function expectReadable(bff: NestFastifyApplication): Promise<void> {
    await eventually(async () => expectStatus(await call(bff, 'GET', `/catalog/products/${product.id}`), 200), {
      timeoutMs: 5000,
      intervalMs: 100,
      message: 'a read to succeed again',
    });
  }

  async function expectRecovered(bff: NestFastifyApplication): Promise<void> {
    await expectReadable(bff);
    expectStatus(await call(bff, 'PUT', `/catalog/products/${other.id}/stock`, { quantity: 50 }), 200);
  }

  /** Waits until exactly one BFF backend of this test's database matches `where` in pg_stat_activity. */
  async function waitForBackend(where: string, message: string): Promise<void> {
    await eventually(
      async () => {
        const { rows } = await ctx().sql.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = $1 AND application_name = 'cachegate-bff' AND ${where}`,
          [ctx().databaseName],
        );
        return rows[0].n === 1;
      },
      { timeoutMs: 5000, intervalMs: 10, message },
    );
  }

  it('uncached reads answer 503 within the bound, also when more are waiting than the pool has connections', async () => {
    await proxy.hold();
    try {
      // Never read before, so no cache can answer them; 30 at once is three times the pool (10).
      const urls = [
        `/catalog/products/${product.id}`,
        `/catalog/products/${other.id}/availability`,
        '/catalog/categories',
        `/orders/${orderId}`,
        ...Array.from({ length: 26 }, () => `/accounts/acct-${tag()}/orders`),
      ];
      const results = await Promise.all(urls.map((url) => timed(app, 'GET', url)));
      results.forEach(({ res, ms }, i) => expectUnavailable(`GET ${urls[i]}`, res, ms, budget(TIMEOUT_MS)));
    } finally {
      await proxy.restore();
    }
    await expectRecovered(app);
  });

  it('writes answer 503 within the bound and leave nothing written', async () => {
    const before = await everythingWritten();
    await proxy.hold();
    try {
      const writes: [HttpMethod, string, unknown, Record<string, string>][] = [
        ['POST', '/catalog/categories', { slug: `hung-${tag()}`, name: 'Hung' }, {}],
        ['POST', '/catalog/products', productBody(categoryId, { stock: 1 }), { 'idempotency-key': `p-${tag()}` }],
        ['PATCH', `/catalog/products/${product.id}`, { name: 'Written While Hung' }, {}],
        ['PUT', `/catalog/products/${product.id}/stock`, { quantity: 1 }, {}],
        ['POST', '/orders', orderBody([{ productId: product.id, quantity: 1 }]), { 'idempotency-key': `o-${tag()}` }],
        ['PATCH', `/orders/${orderId}`, { status: 'paid' }, {}],
        ['POST', `/orders/${orderId}/items`, { productId: other.id, quantity: 1 }, {}],
        ['DELETE', `/orders/${orderId}`, undefined, {}],
      ];
      const results = await Promise.all(writes.map(([m, url, body, headers]) => timed(app, m, url, body, headers)));
      results.forEach(({ res, ms }, i) =>
        expectUnavailable(`${writes[i][0]} ${writes[i][1]}`, res, ms, budget(TIMEOUT_MS)),
      );
    } finally {
      await proxy.restore();
    }
    // Whatever the proxy held has been delivered by now, and the reads ran through the same pool.
    await expectReadable(app);
    expect(await everythingWritten()).toEqual(before);
    await expectRecovered(app);
  });

  it('a write caught by the hang in the middle of its transaction is rolled back, even once the held bytes arrive', async () => {
    const before = await everythingWritten();
    const stockBefore = await stockOf(ctx().sql, product.id);
    const lock: PoolClient = await ctx().sql.connect();
    let pending: Promise<{ res: Response; ms: number }> | undefined;
    try {
      // Park the order's stock reservation on a row lock, so the hang starts while that UPDATE runs in Postgres.
      await lock.query('BEGIN');
      await lock.query('SELECT 1 FROM catalog.stock_levels WHERE product_id = $1 FOR UPDATE', [product.id]);
      pending = timed(roomy, 'POST', '/orders', orderBody([{ productId: product.id, quantity: 2 }]));
      await waitForBackend(
        `wait_event_type = 'Lock' AND query ILIKE '%stock_levels%'`,
        'the order to wait for the stock row',
      );
      await proxy.hold();
      await lock.query('COMMIT'); // the reservation completes in Postgres; its answer is held by the proxy
    } finally {
      lock.release();
    }
    try {
      const { res, ms } = await pending!;
      expectUnavailable('POST /orders', res, ms, budget(ROOMY_TIMEOUT_MS));
    } finally {
      await proxy.restore();
    }
    // Writes through the same pool afterwards must not commit what the lost request left open.
    for (let i = 0; i < 3; i++) {
      expectStatus(await call(roomy, 'PUT', `/catalog/products/${other.id}/stock`, { quantity: 40 + i }), 200);
    }
    expectStatus(await call(roomy, 'PUT', `/catalog/products/${other.id}/stock`, { quantity: 50 }), 200);
    const after = (await everythingWritten()) as { tables: Record<string, unknown[]> };
    expect(await stockOf(ctx().sql, product.id)).toBe(stockBefore);
    expect(after.tables['orders.orders']).toEqual((before as typeof after).tables['orders.orders']);
    expect(after.tables['orders.order_items']).toEqual((before as typeof after).tables['orders.order_items']);
  });

  it('a POST /orders whose COMMIT went through but whose answer was lost: 503 "may have been applied", and a retry with its Idempotency-Key answers the stored 201 without a second order', async () => {
    const accountId = `acct-${tag()}`;
    const key = `ambiguous-${tag()}`;
    const body = orderBody([{ productId: product.id, quantity: 3 }], { accountId });
    const stockBefore = await stockOf(ctx().sql, product.id);
    const advisoryKey = 4_242_001;
    // Test-only: a deferred trigger makes this account's COMMIT wait for a lock the test holds, so the test
    // can hang the connection while the COMMIT is inside Postgres, then let it commit.
    await ctx().sql.query(`
      CREATE OR REPLACE FUNCTION public.test_wait_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_advisory_xact_lock_shared(${advisoryKey}); RETURN NULL; END $$`);
    await ctx().sql.query(`
      CREATE CONSTRAINT TRIGGER test_wait_at_commit AFTER INSERT ON orders.orders
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.account_id = '${accountId}')
        EXECUTE FUNCTION public.test_wait_at_commit()`);
    const lock: PoolClient = await ctx().sql.connect();
    let pending: Promise<{ res: Response; ms: number }> | undefined;
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [advisoryKey]);
      pending = timed(roomy, 'POST', '/orders', body, { 'idempotency-key': key });
      await waitForBackend(`query = 'COMMIT' AND wait_event_type = 'Lock'`, 'the COMMIT to wait inside Postgres');
      await proxy.hold();
      await lock.query('SELECT pg_advisory_unlock($1)', [advisoryKey]); // Postgres commits; its answer is held
    } finally {
      lock.release();
      await ctx().sql.query('DROP TRIGGER test_wait_at_commit ON orders.orders');
    }
    const orders = () => countRows(ctx().sql, 'orders.orders', 'account_id = $1', [accountId]);
    try {
      const { res, ms } = await pending!;
      expect({ status: res.statusCode, message: json(res).message }).toEqual({
        status: 503,
        message: expect.stringMatching(UNKNOWN_OUTCOME),
      });
      expect({ ms, withinBudget: ms <= budget(ROOMY_TIMEOUT_MS) }).toEqual({ ms, withinBudget: true });
      // It did commit: one order, stock reserved once.
      expect(await orders()).toBe(1);
      expect(await stockOf(ctx().sql, product.id)).toBe(stockBefore! - 3);

      // A retry while Postgres still hangs is a 503 too, and writes nothing.
      const during = await timed(roomy, 'POST', '/orders', body, { 'idempotency-key': key });
      expectUnavailable('retry during the hang', during.res, during.ms, budget(ROOMY_TIMEOUT_MS));
    } finally {
      await proxy.restore();
    }

    const retry = await call(roomy, 'POST', '/orders', body, { 'idempotency-key': key });
    expectStatus(retry, 201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    const { rows } = await ctx().sql.query<{ id: string }>('SELECT id FROM orders.orders WHERE account_id = $1', [
      accountId,
    ]);
    expect(json(retry)).toMatchObject({
      id: rows[0].id,
      accountId,
      status: 'pending',
      items: [{ productId: product.id, quantity: 3 }],
    });
    // The other instance knows the key as well (it is stored in Postgres).
    const again = await call(app, 'POST', '/orders', body, { 'idempotency-key': key });
    expectStatus(again, 201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(retry.body);
    expect(await orders()).toBe(1);
    expect(await stockOf(ctx().sql, product.id)).toBe(stockBefore! - 3);
  });
});
