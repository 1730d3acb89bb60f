import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { PoolClient } from 'pg';
import { eventually } from '../../tools/eventually';
import {
  CategoryBody,
  countRows,
  createCategoryWithProduct,
  createOrder,
  createProduct,
  errorOf,
  expectStatus,
  FOUNDATION_ENV,
  orderBody,
  ProductBody,
  productBody,
  snapshotDatabase,
  stockOf,
  tag,
} from '../harness/fixtures';
import { call, json, Response } from '../harness/http';
import { useTestContext } from '../harness/test-context';

type Body = Record<string, unknown>;

/** The same JSON with every object's keys in reverse order and indented: the same request to a server. */
function reshuffled(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reshuffled);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reshuffled(v)]),
    );
  }
  return value;
}

describe('Idempotency-Key on the creating POSTs (docs/contract.md §3 "Idempotent creation", §9.8)', () => {
  const ctx = useTestContext();
  let app: NestFastifyApplication;
  let category: CategoryBody;
  let product: ProductBody;
  let second: ProductBody;

  beforeAll(async () => {
    app = await ctx().startBff(FOUNDATION_ENV);
    ({ category, product } = await createCategoryWithProduct(app, { stock: 1000 }));
    second = await createProduct(app, category.id, { stock: 1000 });
  });

  const post = (bff: NestFastifyApplication, url: string, body: unknown, key?: string): Promise<Response> =>
    call(bff, 'POST', url, body, key === undefined ? {} : { 'idempotency-key': key });

  /** Every catalog/orders row, the captured changes and the stored keys: equal snapshots mean nothing was written. */
  async function everythingWritten(): Promise<unknown> {
    return {
      tables: await snapshotDatabase(ctx().sql),
      outbox: await countRows(ctx().sql, 'cdc.outbox'),
      keys: await countRows(ctx().sql, 'bff.idempotency_keys'),
    };
  }

  /** The four creating routes, each with a fresh request (a new pending order for the items route). */
  const ROUTES: [string, () => Promise<{ url: string; body: Body }>][] = [
    ['POST /orders', async () => ({ url: '/orders', body: orderBody([{ productId: product.id, quantity: 2 }]) })],
    [
      'POST /orders/:id/items',
      async () => {
        const order = await createOrder(app, [{ productId: product.id, quantity: 1 }]);
        return { url: `/orders/${order.id}/items`, body: { productId: second.id, quantity: 2 } };
      },
    ],
    [
      'POST /catalog/products',
      async () => ({ url: '/catalog/products', body: productBody(category.id, { stock: 3 }) }),
    ],
    [
      'POST /catalog/categories',
      async () => ({ url: '/catalog/categories', body: { slug: `idem-${tag()}`, name: `Idem ${tag()}` } }),
    ],
  ];

  it.each(ROUTES)(
    '%s: a repeat with the same key and body answers the stored response with Idempotent-Replayed and writes nothing',
    async (route, request) => {
      const { url, body } = await request();
      const key = `key-${tag()}`;
      const first = await post(app, url, body, key);
      expectStatus(first, 201);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      // Stored with the write, under the route template (not the path with its ids).
      expect(await countRows(ctx().sql, 'bff.idempotency_keys', 'key = $1 AND route = $2', [key, route])).toBe(1);
      const stock = [await stockOf(ctx().sql, product.id), await stockOf(ctx().sql, second.id)];

      const before = await everythingWritten();
      const replay = await call(app, 'POST', url, JSON.stringify(reshuffled(body), null, 2), {
        'idempotency-key': key,
        'content-type': 'application/json',
      });
      expectStatus(replay, 201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toBe(first.body);
      expect(await everythingWritten()).toEqual(before);
      expect([await stockOf(ctx().sql, product.id), await stockOf(ctx().sql, second.id)]).toEqual(stock);
    },
  );

  it('without a key, every POST is a new write', async () => {
    const body = orderBody([{ productId: product.id, quantity: 1 }]);
    expectStatus(await post(app, '/orders', body), 201);
    expectStatus(await post(app, '/orders', body), 201);
    expect(await countRows(ctx().sql, 'orders.orders', 'account_id = $1', [body.accountId])).toBe(2);
  });

  it('the same key with another body (or another order’s path) → 422, and nothing is written', async () => {
    const key = `key-${tag()}`;
    const body = orderBody([{ productId: product.id, quantity: 1 }]);
    expectStatus(await post(app, '/orders', body, key), 201);
    const before = await everythingWritten();
    const changed = await post(app, '/orders', { ...body, items: [{ productId: product.id, quantity: 2 }] }, key);
    expectStatus(changed, 422);
    expect(errorOf(changed).message).toMatch(/Idempotency-Key .*different request/);
    expect(await everythingWritten()).toEqual(before);

    const [a, b] = [
      await createOrder(app, [{ productId: product.id, quantity: 1 }]),
      await createOrder(app, [{ productId: product.id, quantity: 1 }]),
    ];
    const itemKey = `key-${tag()}`;
    expectStatus(await post(app, `/orders/${a.id}/items`, { productId: second.id, quantity: 1 }, itemKey), 201);
    const beforeItems = await everythingWritten();
    expectStatus(await post(app, `/orders/${b.id}/items`, { productId: second.id, quantity: 1 }, itemKey), 422);
    expect(await everythingWritten()).toEqual(beforeItems);
  });

  it('a key belongs to its route: the same key on another route is a new request', async () => {
    const key = `key-${tag()}`;
    const categoryRes = await post(app, '/catalog/categories', { slug: `scoped-${tag()}`, name: 'Scoped' }, key);
    expectStatus(categoryRes, 201);
    const orderRes = await post(app, '/orders', orderBody([{ productId: product.id, quantity: 1 }]), key);
    expectStatus(orderRes, 201);
    expect(orderRes.headers['idempotent-replayed']).toBeUndefined();
    expect(json(orderRes).items).toHaveLength(1);
  });

  it('a repeat while the first request is still running → 409 at once; the first then completes and is replayed', async () => {
    const key = `key-${tag()}`;
    const body = orderBody([{ productId: product.id, quantity: 1 }]);
    const lock: PoolClient = await ctx().sql.connect();
    let first: Promise<Response> | undefined;
    try {
      // Park the first request on the stock row, inside its transaction.
      await lock.query('BEGIN');
      await lock.query('SELECT 1 FROM catalog.stock_levels WHERE product_id = $1 FOR UPDATE', [product.id]);
      first = post(app, '/orders', body, key);
      await eventually(
        async () => {
          const { rows } = await ctx().sql.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = $1 AND application_name = 'cachegate-bff'
                AND wait_event_type = 'Lock' AND query ILIKE '%stock_levels%'`,
            [ctx().databaseName],
          );
          return rows[0].n === 1;
        },
        { timeoutMs: 5000, intervalMs: 10, message: 'the first request to wait for the stock row' },
      );
      const duplicate = await post(app, '/orders', body, key);
      expectStatus(duplicate, 409);
      expect(errorOf(duplicate).message).toMatch(/Idempotency-Key .*still in progress/);
      // Decided by the key alone: another body is the same conflict while the first runs.
      expectStatus(await post(app, '/orders', { ...body, currency: 'USD' }, key), 409);
      await lock.query('COMMIT');
    } finally {
      lock.release();
    }
    const done = await first!;
    expectStatus(done, 201);
    const replay = await post(app, '/orders', body, key);
    expectStatus(replay, 201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(done.body);
    expect(await countRows(ctx().sql, 'orders.orders', 'account_id = $1', [body.accountId])).toBe(1);
  });

  it.each([
    ['empty', ''],
    ['a space', 'a b'],
    ['a tab', 'a\tb'],
    ['a non-ASCII character', 'cl\u00e9'],
    ['256 characters', 'k'.repeat(256)],
  ])('a key with %s → 400 and nothing written', async (_what, key) => {
    const before = await everythingWritten();
    const res = await post(app, '/orders', orderBody([{ productId: product.id, quantity: 1 }]), key);
    expectStatus(res, 400);
    expect(errorOf(res).message).toMatch(/Idempotency-Key/);
    expect(await everythingWritten()).toEqual(before);
  });

  it('a key of 255 visible ASCII characters is accepted', async () => {
    const key = `!~${tag()}`.padEnd(255, '~');
    expectStatus(await post(app, '/catalog/categories', { slug: `long-${tag()}`, name: 'Long key' }, key), 201);
  });

  it('keys expire after IDEMPOTENCY_TTL: an expired key is a new request, and expired rows are pruned', async () => {
    const shortLived = await ctx().startBff({ ...FOUNDATION_ENV, IDEMPOTENCY_TTL: '1s' });
    const key = `key-${tag()}`;
    const otherKey = `key-${tag()}`;
    const body = orderBody([{ productId: product.id, quantity: 1 }]);
    const first = await post(shortLived, '/orders', body, key);
    expectStatus(first, 201);
    expectStatus(await post(shortLived, '/catalog/categories', { slug: `ttl-${tag()}`, name: 'TTL' }, otherKey), 201);
    const stockBefore = await stockOf(ctx().sql, product.id);

    await eventually(
      async () =>
        (await countRows(ctx().sql, 'bff.idempotency_keys', 'key = ANY($1) AND expires_at <= now()', [
          [key, otherKey],
        ])) === 2,
      { timeoutMs: 5000, intervalMs: 100, message: 'both keys to expire (Postgres clock)' },
    );
    const again = await post(shortLived, '/orders', body, key);
    expectStatus(again, 201);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(json(again).id).not.toBe(json(first).id);
    expect(await countRows(ctx().sql, 'orders.orders', 'account_id = $1', [body.accountId])).toBe(2);
    expect(await stockOf(ctx().sql, product.id)).toBe(stockBefore! - 1);
    // The key now stands for the new order.
    const replay = await post(shortLived, '/orders', body, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(json(replay).id).toBe(json(again).id);
    // The expired row of the other key is pruned by the sweep that follows writes.
    await eventually(async () => (await countRows(ctx().sql, 'bff.idempotency_keys', 'key = $1', [otherKey])) === 0, {
      timeoutMs: 5000,
      intervalMs: 50,
      message: 'the expired key to be pruned',
    });
  });

  it('the OpenAPI document shows the header and the 409/422 answers on the four operations', async () => {
    const res = await call(app, 'GET', '/docs-json');
    expectStatus(res, 200);
    const doc = json(res);
    for (const [path, method] of [
      ['/orders', 'post'],
      ['/orders/{id}/items', 'post'],
      ['/catalog/products', 'post'],
      ['/catalog/categories', 'post'],
    ]) {
      const op = doc.paths[path][method];
      const header = (op.parameters ?? []).find((p: any) => p.in === 'header' && p.name === 'Idempotency-Key');
      expect({ path, header: header && { required: header.required, maxLength: header.schema?.maxLength } }).toEqual({
        path,
        header: { required: false, maxLength: 255 },
      });
      expect({ path, responses: Object.keys(op.responses).filter((s) => ['409', '422'].includes(s)) }).toEqual({
        path,
        responses: ['409', '422'],
      });
    }
  });
});
