import { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  ADDRESS,
  countRows,
  createCategory,
  createOrder,
  createProduct,
  errorOf,
  expectStatus,
  FOUNDATION_ENV,
  ISO_TIMESTAMP_PATTERN,
  keysOf,
  ORDER_FIELDS,
  ORDER_ITEM_FIELDS,
  ORDER_SUMMARY_FIELDS,
  orderBody,
  ProductBody,
  snapshotDatabase,
  sorted,
  stockOf,
  tag,
  UNKNOWN_ID,
  UUID_PATTERN,
} from '../harness/fixtures';
import { waitForCdc } from '../harness/cdc';
import { call, json } from '../harness/http';
import { useTestContext } from '../harness/test-context';

type Status = 'pending' | 'paid' | 'shipped' | 'delivered' | 'cancelled';
const STATUSES: Status[] = ['pending', 'paid', 'shipped', 'delivered', 'cancelled'];
const ALLOWED = new Set(['pending>paid', 'paid>shipped', 'shipped>delivered', 'pending>cancelled', 'paid>cancelled']);
/** The allowed steps that lead from a new (pending) order to each status. */
const PATH_TO: Record<Status, Status[]> = {
  pending: [],
  paid: ['paid'],
  shipped: ['paid', 'shipped'],
  delivered: ['paid', 'shipped', 'delivered'],
  cancelled: ['cancelled'],
};

describe('orders REST API (docs/contract.md §3)', () => {
  const ctx = useTestContext();
  let app: NestFastifyApplication;
  let categoryId: string;

  beforeAll(async () => {
    app = await ctx().startBff(FOUNDATION_ENV);
    categoryId = (await createCategory(app)).id;
  });

  const product = (fields: Record<string, unknown> = {}): Promise<ProductBody> =>
    createProduct(app, categoryId, { stock: 10, ...fields });

  const stock = (productId: string) => stockOf(ctx().sql, productId);

  async function setStatus(orderId: string, status: Status): Promise<void> {
    expectStatus(await call(app, 'PATCH', `/orders/${orderId}`, { status }), 200);
  }

  /** The order row as Postgres has it, every column (status, version, updated_at, total…). */
  async function orderRow(orderId: string): Promise<unknown> {
    const { rows } = await ctx().sql.query('SELECT to_jsonb(o) AS row FROM orders.orders o WHERE id = $1', [orderId]);
    return rows[0]?.row;
  }

  /** totalCents must always equal the sum of quantity × unitPriceCents, in the database and in the answer. */
  async function expectConsistentTotal(order: any): Promise<void> {
    const fromItems = order.items.reduce((sum: number, i: any) => sum + i.quantity * i.unitPriceCents, 0);
    expect(order.totalCents).toBe(fromItems);
    const { rows } = await ctx().sql.query(
      `SELECT o.total_cents AS total,
              (SELECT coalesce(sum(i.quantity * i.unit_price_cents), 0)::int FROM orders.order_items i WHERE i.order_id = o.id) AS sum
         FROM orders.orders o WHERE o.id = $1`,
      [order.id],
    );
    expect(rows).toEqual([{ total: fromItems, sum: fromItems }]);
  }

  const byProduct = (items: any[]) => [...items].sort((a, b) => (a.productId < b.productId ? -1 : 1));

  describe('creating and reading orders', () => {
    it('POST /orders answers 201 with the full order, priced from the catalog, and reserves stock', async () => {
      const tea = await product({ name: 'Green Tea', priceCents: 1999, stock: 10 });
      const mug = await product({ name: 'Mug', priceCents: 500, stock: 4 });
      const accountId = `acct-${tag()}`;
      const res = await call(app, 'POST', '/orders', {
        accountId,
        currency: 'EUR',
        customerEmail: 'ada@example.com',
        shippingAddress: ADDRESS,
        items: [
          { productId: tea.id, quantity: 3 },
          { productId: mug.id, quantity: 4 },
        ],
      });
      expectStatus(res, 201);
      const order = json(res);
      expect(keysOf(order)).toEqual(sorted(ORDER_FIELDS));
      expect(order).toEqual({
        id: expect.stringMatching(UUID_PATTERN),
        accountId,
        status: 'pending',
        currency: 'EUR',
        customerEmail: 'ada@example.com',
        shippingAddress: ADDRESS,
        totalCents: 3 * 1999 + 4 * 500,
        version: 1,
        items: expect.any(Array),
        createdAt: expect.stringMatching(ISO_TIMESTAMP_PATTERN),
        updatedAt: expect.stringMatching(ISO_TIMESTAMP_PATTERN),
      });
      for (const item of order.items) expect(keysOf(item)).toEqual(sorted(ORDER_ITEM_FIELDS));
      expect(byProduct(order.items)).toEqual(
        byProduct([
          {
            id: expect.stringMatching(UUID_PATTERN),
            productId: tea.id,
            sku: tea.sku,
            name: 'Green Tea',
            quantity: 3,
            unitPriceCents: 1999,
          },
          {
            id: expect.stringMatching(UUID_PATTERN),
            productId: mug.id,
            sku: mug.sku,
            name: 'Mug',
            quantity: 4,
            unitPriceCents: 500,
          },
        ]),
      );
      // Stock was reserved: all of the mug, three teas.
      expect(await stock(tea.id)).toBe(7);
      expect(await stock(mug.id)).toBe(0);
      expect(json(await call(app, 'GET', `/catalog/products/${mug.id}/availability`))).toMatchObject({
        quantity: 0,
        inStock: false,
      });
      await expectConsistentTotal(order);
    });

    it('GET /orders/:id answers the same order as the creation', async () => {
      const p = await product();
      const created = await createOrder(app, [{ productId: p.id, quantity: 2 }]);
      const res = await call(app, 'GET', `/orders/${created.id}`);
      expectStatus(res, 200);
      expect(json(res)).toEqual(created);
      expectStatus(await call(app, 'GET', `/orders/${created.id.toUpperCase()}`), 200);
    });

    it('an order keeps the price, sku and name of order time when the catalog changes later', async () => {
      const p = await product({ priceCents: 1000 });
      const order = await createOrder(app, [{ productId: p.id, quantity: 1 }]);
      expectStatus(
        await call(app, 'PATCH', `/catalog/products/${p.id}`, {
          priceCents: 9999,
          name: 'Renamed Later',
          sku: `LATER-${tag().toUpperCase()}`,
        }),
        200,
      );
      const after = json(await call(app, 'GET', `/orders/${order.id}`));
      expect(after.items).toEqual(order.items);
      expect(after.totalCents).toBe(1000);
    });

    it('GET /accounts/:accountId/orders lists exactly {id, status, totalCents, currency, itemCount, createdAt}, newest first', async () => {
      const a = await product({ priceCents: 100 });
      const b = await product({ priceCents: 250 });
      const c = await product({ priceCents: 1000 });
      const accountId = `Acct_${tag()}-x`;
      const first = await createOrder(app, [{ productId: a.id, quantity: 1 }], { accountId });
      const second = await createOrder(
        app,
        [
          { productId: a.id, quantity: 2 },
          { productId: b.id, quantity: 1 },
        ],
        { accountId },
      );
      const third = await createOrder(
        app,
        [
          { productId: a.id, quantity: 1 },
          { productId: b.id, quantity: 1 },
          { productId: c.id, quantity: 3 },
        ],
        { accountId },
      );
      await setStatus(first.id, 'paid');
      // Another account's order never shows up.
      await createOrder(app, [{ productId: a.id, quantity: 1 }]);

      const res = await call(app, 'GET', `/accounts/${accountId}/orders`);
      expectStatus(res, 200);
      const list: any[] = json(res);
      for (const s of list) expect(keysOf(s)).toEqual(sorted(ORDER_SUMMARY_FIELDS));
      expect(list).toEqual([
        {
          id: third.id,
          status: 'pending',
          totalCents: 100 + 250 + 3000,
          currency: 'EUR',
          itemCount: 3,
          createdAt: third.createdAt,
        },
        {
          id: second.id,
          status: 'pending',
          totalCents: 200 + 250,
          currency: 'EUR',
          itemCount: 2,
          createdAt: second.createdAt,
        },
        { id: first.id, status: 'paid', totalCents: 100, currency: 'EUR', itemCount: 1, createdAt: first.createdAt },
      ]);
    });

    it('itemCount counts item rows, not quantities', async () => {
      const p = await product();
      const accountId = `acct-${tag()}`;
      await createOrder(app, [{ productId: p.id, quantity: 5 }], { accountId });
      expect(json(await call(app, 'GET', `/accounts/${accountId}/orders`))).toEqual([
        expect.objectContaining({ itemCount: 1, totalCents: 5 * 1250 }),
      ]);
    });

    it('an account without orders has []', async () => {
      const res = await call(app, 'GET', `/accounts/nobody-${tag()}/orders`);
      expectStatus(res, 200);
      expect(json(res)).toEqual([]);
    });

    it('concurrent orders for the last unit: exactly one wins, the others are 409, stock ends at 0', async () => {
      const p = await product({ stock: 1 });
      const results = await Promise.all(
        Array.from({ length: 6 }, () => call(app, 'POST', '/orders', orderBody([{ productId: p.id, quantity: 1 }]))),
      );
      expect(results.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409, 409, 409]);
      expect(await stock(p.id)).toBe(0);
      expect(await countRows(ctx().sql, 'orders.order_items', 'product_id = $1', [p.id])).toBe(1);
    });
  });

  describe('a failing creation leaves stock and orders untouched', () => {
    it('one of two items lacks stock → 409 naming the product; the other item’s reservation is rolled back', async () => {
      // Stock is reserved in product id order: make the product reserved first the one that has stock,
      // so the failure happens after a successful reservation inside the same transaction.
      const [x, y] = [await product({ stock: 10 }), await product({ stock: 10 })].sort((p, q) =>
        p.id < q.id ? -1 : 1,
      );
      expectStatus(await call(app, 'PUT', `/catalog/products/${y.id}/stock`, { quantity: 1 }), 200);
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(
        app,
        'POST',
        '/orders',
        orderBody([
          { productId: y.id, quantity: 2 },
          { productId: x.id, quantity: 5 },
        ]),
      );
      expectStatus(res, 409);
      expect(errorOf(res)).toMatchObject({ statusCode: 409, error: 'Conflict' });
      expect(errorOf(res).message).toMatch(/stock/);
      expect(errorOf(res).message).toContain(y.id);
      expect(await stock(x.id)).toBe(10);
      expect(await stock(y.id)).toBe(1);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it('one product inactive → 422 naming items.<n>.productId; nothing reserved or written', async () => {
      const ok = await product();
      const inactive = await product({ active: false });
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(
        app,
        'POST',
        '/orders',
        orderBody([
          { productId: ok.id, quantity: 1 },
          { productId: inactive.id, quantity: 1 },
        ]),
      );
      expectStatus(res, 422);
      expect(errorOf(res)).toMatchObject({ statusCode: 422, error: 'Unprocessable Entity' });
      expect(errorOf(res).message).toMatch(/items\.1\.productId/);
      expect(await stock(ok.id)).toBe(10);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it('a product that does not exist → 422 naming it; nothing written', async () => {
      const ok = await product();
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(
        app,
        'POST',
        '/orders',
        orderBody([
          { productId: UNKNOWN_ID, quantity: 1 },
          { productId: ok.id, quantity: 1 },
        ]),
      );
      expectStatus(res, 422);
      expect(errorOf(res).message).toMatch(/items\.0\.productId/);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it('a product priced in another currency → 422; nothing written', async () => {
      const usd = await product({ currency: 'USD' });
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(
        app,
        'POST',
        '/orders',
        orderBody([{ productId: usd.id, quantity: 1 }], { currency: 'EUR' }),
      );
      expectStatus(res, 422);
      expect(errorOf(res).message).toMatch(/items\.0\.productId/);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it('a total beyond the integer column → 400 naming items; nothing written', async () => {
      const pricey = await product({ priceCents: 3_000_000, stock: 1000 });
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(app, 'POST', '/orders', orderBody([{ productId: pricey.id, quantity: 1000 }]));
      expectStatus(res, 400);
      expect(errorOf(res).message).toMatch(/items/);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });
  });

  describe('items', () => {
    it('POST /orders/:id/items adds a line priced from the catalog, reserves its stock and updates the total', async () => {
      const a = await product({ priceCents: 300 });
      const b = await product({ priceCents: 700, stock: 5 });
      const order = await createOrder(app, [{ productId: a.id, quantity: 1 }]);
      const res = await call(app, 'POST', `/orders/${order.id}/items`, { productId: b.id, quantity: 2 });
      expectStatus(res, 201);
      const updated = json(res);
      expect(keysOf(updated)).toEqual(sorted(ORDER_FIELDS));
      expect(updated.items).toHaveLength(2);
      expect(updated.items.find((i: any) => i.productId === b.id)).toEqual({
        id: expect.stringMatching(UUID_PATTERN),
        productId: b.id,
        sku: b.sku,
        name: b.name,
        quantity: 2,
        unitPriceCents: 700,
      });
      expect(updated.totalCents).toBe(300 + 1400);
      expect(updated.version).toBeGreaterThan(order.version);
      expect(await stock(b.id)).toBe(3);
      expect(await stock(a.id)).toBe(9);
      await expectConsistentTotal(updated);
      expect(json(await call(app, 'GET', `/orders/${order.id}`))).toEqual(updated);
    });

    it('adding a product already in the order is 409 (change its quantity instead); nothing written', async () => {
      const a = await product();
      const order = await createOrder(app, [{ productId: a.id, quantity: 1 }]);
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(app, 'POST', `/orders/${order.id}/items`, { productId: a.id, quantity: 1 });
      expectStatus(res, 409);
      expect(errorOf(res).message).toMatch(/productId/);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it.each([
      ['an inactive product', 422, { active: false }],
      ['a product without enough stock', 409, { stock: 1 }],
      ['a product in another currency', 422, { currency: 'USD' }],
    ] as const)('adding %s is %i naming productId; nothing written', async (_label, status, fields) => {
      const a = await product();
      const order = await createOrder(app, [{ productId: a.id, quantity: 1 }]);
      const b = await product(fields);
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(app, 'POST', `/orders/${order.id}/items`, { productId: b.id, quantity: 2 });
      expectStatus(res, status);
      expect(errorOf(res).message).toMatch(/productId/);
      expect(errorOf(res).message).not.toMatch(/items\.0/);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it('adding an unknown product is 422; nothing written', async () => {
      const order = await createOrder(app, [{ productId: (await product()).id, quantity: 1 }]);
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(app, 'POST', `/orders/${order.id}/items`, { productId: UNKNOWN_ID, quantity: 1 });
      expectStatus(res, 422);
      expect(errorOf(res).message).toMatch(/productId/);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it('PATCH /orders/:id/items/:itemId moves stock by the difference and rewrites the total', async () => {
      const a = await product({ priceCents: 250, stock: 10 });
      const b = await product({ priceCents: 1000, stock: 10 });
      const order = await createOrder(app, [
        { productId: a.id, quantity: 2 },
        { productId: b.id, quantity: 1 },
      ]);
      const itemA = order.items.find((i: any) => i.productId === a.id);
      expect(await stock(a.id)).toBe(8);

      const up = await call(app, 'PATCH', `/orders/${order.id}/items/${itemA.id}`, { quantity: 7 });
      expectStatus(up, 200);
      expect(json(up).items.find((i: any) => i.id === itemA.id)).toEqual({ ...itemA, quantity: 7 });
      expect(json(up).totalCents).toBe(7 * 250 + 1000);
      expect(await stock(a.id)).toBe(3);
      await expectConsistentTotal(json(up));

      const down = await call(app, 'PATCH', `/orders/${order.id}/items/${itemA.id}`, { quantity: 1 });
      expectStatus(down, 200);
      expect(json(down).totalCents).toBe(250 + 1000);
      expect(json(down).version).toBeGreaterThan(json(up).version);
      expect(await stock(a.id)).toBe(9);
      expect(await stock(b.id)).toBe(9);
      await expectConsistentTotal(json(down));
    });

    it('raising a quantity beyond the stock is 409 and changes nothing', async () => {
      const a = await product({ stock: 5 });
      const order = await createOrder(app, [{ productId: a.id, quantity: 2 }]);
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(app, 'PATCH', `/orders/${order.id}/items/${order.items[0].id}`, { quantity: 6 });
      expectStatus(res, 409);
      expect(errorOf(res).message).toMatch(/stock/);
      expect(await stock(a.id)).toBe(3);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
      // Exactly the remaining stock is fine.
      expectStatus(await call(app, 'PATCH', `/orders/${order.id}/items/${order.items[0].id}`, { quantity: 5 }), 200);
      expect(await stock(a.id)).toBe(0);
    });

    it('DELETE /orders/:id/items/:itemId answers 200 with the order, gives the stock back and rewrites the total', async () => {
      const a = await product({ priceCents: 250 });
      const b = await product({ priceCents: 1000 });
      const order = await createOrder(app, [
        { productId: a.id, quantity: 4 },
        { productId: b.id, quantity: 1 },
      ]);
      const itemA = order.items.find((i: any) => i.productId === a.id);
      const res = await call(app, 'DELETE', `/orders/${order.id}/items/${itemA.id}`);
      expectStatus(res, 200);
      const updated = json(res);
      expect(keysOf(updated)).toEqual(sorted(ORDER_FIELDS));
      expect(updated.items.map((i: any) => i.productId)).toEqual([b.id]);
      expect(updated.totalCents).toBe(1000);
      expect(await stock(a.id)).toBe(10);
      expect(await countRows(ctx().sql, 'orders.order_items', 'id = $1', [itemA.id])).toBe(0);
      await expectConsistentTotal(updated);
      expect(json(await call(app, 'GET', `/accounts/${order.accountId}/orders`))[0]).toMatchObject({
        itemCount: 1,
        totalCents: 1000,
      });
    });

    it('unknown items, items of another order and unknown orders are 404; nothing written', async () => {
      const p = await product();
      const order = await createOrder(app, [{ productId: p.id, quantity: 1 }]);
      const other = await createOrder(app, [{ productId: p.id, quantity: 1 }]);
      const before = await snapshotDatabase(ctx().sql);
      const cases: [string, string, unknown][] = [
        ['PATCH', `/orders/${order.id}/items/${UNKNOWN_ID}`, { quantity: 2 }],
        ['DELETE', `/orders/${order.id}/items/${UNKNOWN_ID}`, undefined],
        ['PATCH', `/orders/${order.id}/items/${other.items[0].id}`, { quantity: 2 }],
        ['DELETE', `/orders/${order.id}/items/${other.items[0].id}`, undefined],
        ['PATCH', `/orders/${UNKNOWN_ID}/items/${order.items[0].id}`, { quantity: 2 }],
        ['POST', `/orders/${UNKNOWN_ID}/items`, { productId: p.id, quantity: 1 }],
        ['GET', `/orders/${UNKNOWN_ID}`, undefined],
        ['PATCH', `/orders/${UNKNOWN_ID}`, { status: 'paid' }],
        ['DELETE', `/orders/${UNKNOWN_ID}`, undefined],
      ];
      for (const [method, url, body] of cases) {
        const res = await call(app, method as any, url, body);
        expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 404 });
        expect(errorOf(res)).toMatchObject({ statusCode: 404, error: 'Not Found' });
      }
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it.each(STATUSES.filter((s) => s !== 'pending'))(
      'items cannot change while the order is %s (409, nothing written)',
      async (status) => {
        const a = await product();
        const b = await product();
        const order = await createOrder(app, [{ productId: a.id, quantity: 2 }]);
        for (const step of PATH_TO[status]) await setStatus(order.id, step);
        const before = await snapshotDatabase(ctx().sql);
        const attempts = [
          await call(app, 'POST', `/orders/${order.id}/items`, { productId: b.id, quantity: 1 }),
          await call(app, 'PATCH', `/orders/${order.id}/items/${order.items[0].id}`, { quantity: 1 }),
          await call(app, 'DELETE', `/orders/${order.id}/items/${order.items[0].id}`),
        ];
        for (const res of attempts) {
          expectStatus(res, 409);
          expect(errorOf(res).message).toContain(status);
        }
        expect(await snapshotDatabase(ctx().sql)).toEqual(before);
      },
    );
  });

  describe('status transitions', () => {
    const pairs = STATUSES.flatMap((from) => STATUSES.map((to) => [from, to] as [Status, Status]));

    it.each(pairs)('%s → %s', async (from, to) => {
      const p = await product({ stock: 10 });
      const order = await createOrder(app, [{ productId: p.id, quantity: 3 }]);
      for (const step of PATH_TO[from]) await setStatus(order.id, step);
      const stockBefore = await stock(p.id);
      expect(stockBefore).toBe(from === 'cancelled' ? 10 : 7);
      const rowBefore: any = await orderRow(order.id);
      const before = await snapshotDatabase(ctx().sql);

      const res = await call(app, 'PATCH', `/orders/${order.id}`, { status: to });

      if (ALLOWED.has(`${from}>${to}`)) {
        expectStatus(res, 200);
        const body = json(res);
        expect(keysOf(body)).toEqual(sorted(ORDER_FIELDS));
        expect(body).toMatchObject({
          id: order.id,
          status: to,
          version: rowBefore.version + 1,
          totalCents: order.totalCents,
        });
        expect(body.items).toEqual(order.items);
        // Cancelling gives the reserved stock back; the other steps keep it reserved.
        expect(await stock(p.id)).toBe(to === 'cancelled' ? 10 : 7);
        expect(json(await call(app, 'GET', `/orders/${order.id}`)).status).toBe(to);
      } else {
        expectStatus(res, 409);
        expect(errorOf(res)).toMatchObject({ statusCode: 409, error: 'Conflict' });
        expect(errorOf(res).message).toContain(from);
        expect(await orderRow(order.id)).toEqual(rowBefore);
        expect(await stock(p.id)).toBe(stockBefore);
        expect(await snapshotDatabase(ctx().sql)).toEqual(before);
      }
    });

    it('cancelling a paid order with several items gives every item’s stock back', async () => {
      const a = await product({ stock: 10 });
      const b = await product({ stock: 3 });
      const order = await createOrder(app, [
        { productId: a.id, quantity: 4 },
        { productId: b.id, quantity: 3 },
      ]);
      await setStatus(order.id, 'paid');
      expect([await stock(a.id), await stock(b.id)]).toEqual([6, 0]);
      await setStatus(order.id, 'cancelled');
      expect([await stock(a.id), await stock(b.id)]).toEqual([10, 3]);
    });
  });

  describe('DELETE /orders/:id', () => {
    it.each([
      ['pending', 10],
      ['paid', 10],
      ['shipped', 7],
      ['delivered', 7],
      ['cancelled', 10],
    ] as [Status, number][])(
      'deleting a %s order answers 204, removes it with its items, and leaves stock at %i',
      async (status, expectedStock) => {
        const p = await product({ stock: 10 });
        const order = await createOrder(app, [{ productId: p.id, quantity: 3 }]);
        for (const step of PATH_TO[status]) await setStatus(order.id, step);
        const res = await call(app, 'DELETE', `/orders/${order.id}`);
        expectStatus(res, 204);
        expect(res.body).toBe('');
        // Pending and paid orders still hold their reservation and give it back; a cancelled one already did (no double release).
        expect(await stock(p.id)).toBe(expectedStock);
        expect(await countRows(ctx().sql, 'orders.orders', 'id = $1', [order.id])).toBe(0);
        expect(await countRows(ctx().sql, 'orders.order_items', 'order_id = $1', [order.id])).toBe(0);
        expectStatus(await call(app, 'GET', `/orders/${order.id}`), 404);
        expect(json(await call(app, 'GET', `/accounts/${order.accountId}/orders`))).toEqual([]);
        expectStatus(await call(app, 'DELETE', `/orders/${order.id}`), 404);
      },
    );

    it('deleting an order whose product was deleted meanwhile still works', async () => {
      const p = await product();
      const order = await createOrder(app, [{ productId: p.id, quantity: 1 }]);
      expectStatus(await call(app, 'DELETE', `/catalog/products/${p.id}`), 204);
      expectStatus(await call(app, 'DELETE', `/orders/${order.id}`), 204);
      expect(await countRows(ctx().sql, 'orders.orders', 'id = $1', [order.id])).toBe(0);
    });
  });

  describe('writes made with plain SQL are visible through the API', () => {
    it('a status and item change by SQL shows in the order and the account summary', async () => {
      const p = await product({ priceCents: 100 });
      const order = await createOrder(app, [{ productId: p.id, quantity: 1 }]);
      // Both views are read (cached) first: the CDC pipeline has to drop them.
      await waitForCdc(app);
      expectStatus(await call(app, 'GET', `/orders/${order.id}`), 200);
      expectStatus(await call(app, 'GET', `/accounts/${order.accountId}/orders`), 200);
      await ctx().sql.query(`UPDATE orders.orders SET status = 'paid' WHERE id = $1`, [order.id]);
      await ctx().sql.query(
        `INSERT INTO orders.order_items (order_id, product_id, sku, name, quantity, unit_price_cents) VALUES ($1, $2, 'EXT-1', 'External', 2, 50)`,
        [order.id, UNKNOWN_ID],
      );
      await ctx().sql.query(`UPDATE orders.orders SET total_cents = 200 WHERE id = $1`, [order.id]);
      // Dropped by the CDC pipeline shortly after the commit; once the events are processed, reads show the new state.
      await waitForCdc(app);
      const after = json(await call(app, 'GET', `/orders/${order.id}`));
      expect(after).toMatchObject({ status: 'paid', totalCents: 200, version: 3 });
      expect(after.items).toHaveLength(2);
      expect(json(await call(app, 'GET', `/accounts/${order.accountId}/orders`))).toEqual([
        { id: order.id, status: 'paid', totalCents: 200, currency: 'EUR', itemCount: 2, createdAt: order.createdAt },
      ]);
    });
  });

  describe('400 for invalid input, with a message naming the field', () => {
    let productId: string;
    let orderId: string;
    let itemId: string;
    beforeAll(async () => {
      productId = (await product({ stock: 1000 })).id;
      const order = await createOrder(app, [{ productId, quantity: 1 }]);
      orderId = order.id;
      itemId = order.items[0].id;
    });

    const line = () => ({ productId, quantity: 1 });
    const createCases: [string, () => Record<string, unknown>, RegExp][] = [
      ['accountId with a space', () => ({ accountId: 'has space' }), /accountId/],
      ['accountId over 64 characters', () => ({ accountId: 'a'.repeat(65) }), /accountId/],
      ['accountId as a number', () => ({ accountId: 42 }), /accountId/],
      ['an unknown currency', () => ({ currency: 'EURO' }), /currency/],
      ['a lower-case currency', () => ({ currency: 'eur' }), /currency/],
      ['an invalid email', () => ({ customerEmail: 'not-an-email' }), /customerEmail/],
      ['no shippingAddress', () => ({ shippingAddress: undefined }), /shippingAddress/],
      ['shippingAddress as a string', () => ({ shippingAddress: 'Berlin' }), /shippingAddress/],
      ['shippingAddress as an array', () => ({ shippingAddress: [ADDRESS] }), /shippingAddress/],
      ['a country that is not ISO 3166', () => ({ shippingAddress: { ...ADDRESS, country: 'Germany' } }), /country/],
      ['an unknown shippingAddress field', () => ({ shippingAddress: { ...ADDRESS, floor: 3 } }), /floor/],
      ['an empty city', () => ({ shippingAddress: { ...ADDRESS, city: '' } }), /city/],
      [
        'a NUL character in the address',
        () => ({ shippingAddress: { ...ADDRESS, city: 'Lon\u0000don' } }),
        /shippingAddress\.city/,
      ],
      ['no items', () => ({ items: [] }), /items/],
      ['items as an object', () => ({ items: line() }), /items/],
      ['items of arrays', () => ({ items: [[]] }), /items/],
      ['more than 100 items', () => ({ items: Array.from({ length: 101 }, line) }), /items/],
      ['the same product twice', () => ({ items: [line(), line()] }), /items/],
      ['quantity 0', () => ({ items: [{ productId, quantity: 0 }] }), /quantity/],
      ['quantity 1001', () => ({ items: [{ productId, quantity: 1001 }] }), /quantity/],
      ['a fractional quantity', () => ({ items: [{ productId, quantity: 1.5 }] }), /quantity/],
      ['a quantity as a string', () => ({ items: [{ productId, quantity: '2' }] }), /quantity/],
      ['a productId that is not a UUID', () => ({ items: [{ productId: 'tea', quantity: 1 }] }), /productId/],
      ['an unknown item field', () => ({ items: [{ ...line(), discount: 10 }] }), /discount/],
      ['a status at creation', () => ({ status: 'paid' }), /status/],
      ['a totalCents at creation', () => ({ totalCents: 1 }), /totalCents/],
    ];

    it.each(createCases)('POST /orders with %s', async (_label, fields, field) => {
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(app, 'POST', '/orders', orderBody([line()], fields()));
      expectStatus(res, 400);
      expect(errorOf(res)).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(errorOf(res).message).toMatch(field);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it.each([
      ['PATCH', '/orders/:id', { status: 'lost' }, /status/],
      ['PATCH', '/orders/:id', { status: 1 }, /status/],
      ['PATCH', '/orders/:id', {}, /status/],
      ['PATCH', '/orders/:id', { status: 'paid', note: 'x' }, /note/],
      ['POST', '/orders/:id/items', { productId: 'x', quantity: 1 }, /productId/],
      ['POST', '/orders/:id/items', { quantity: 1 }, /productId/],
      ['POST', '/orders/:id/items', { productId: ':product', quantity: 0 }, /quantity/],
      ['POST', '/orders/:id/items', { productId: ':product', quantity: 1, price: 1 }, /price/],
      ['PATCH', '/orders/:id/items/:itemId', { quantity: 0 }, /quantity/],
      ['PATCH', '/orders/:id/items/:itemId', { quantity: 1001 }, /quantity/],
      ['PATCH', '/orders/:id/items/:itemId', { quantity: '3' }, /quantity/],
      ['PATCH', '/orders/:id/items/:itemId', { quantity: 2, productId: ':product' }, /productId/],
    ] as const)('%s %s with %j', async (method, path, body, field) => {
      const before = await snapshotDatabase(ctx().sql);
      const payload = JSON.parse(JSON.stringify(body).replace(':product', productId));
      const res = await call(app, method, path.replace(':id', orderId).replace(':itemId', itemId), payload);
      expectStatus(res, 400);
      expect(errorOf(res).message).toMatch(field);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it.each([
      ['GET', '/accounts/has space/orders', /accountId/],
      ['GET', `/accounts/${'a'.repeat(65)}/orders`, /accountId/],
      ['GET', '/accounts/bad.dot/orders', /accountId/],
      ['GET', '/orders/not-a-uuid', /\bid\b/],
      ['PATCH', '/orders/1234', /\bid\b/],
      ['DELETE', '/orders/xyz', /\bid\b/],
      ['POST', '/orders/xyz/items', /\bid\b/],
      ['PATCH', '/orders/:id/items/not-a-uuid', /itemId/],
      ['DELETE', '/orders/:id/items/not-a-uuid', /itemId/],
    ] as const)('%s %s (a path parameter that breaks its pattern)', async (method, path, field) => {
      const before = await snapshotDatabase(ctx().sql);
      const url = path.replace(':id', orderId).replace(' ', '%20');
      const body =
        method === 'PATCH'
          ? path.includes('items')
            ? { quantity: 2 }
            : { status: 'paid' }
          : method === 'POST'
            ? { productId, quantity: 1 }
            : undefined;
      const res = await call(app, method, url, body);
      expectStatus(res, 400);
      expect(errorOf(res).message).toMatch(field);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it('malformed JSON is 400 and a body over 100 KiB is 413', async () => {
      const before = await snapshotDatabase(ctx().sql);
      const bad = await call(app, 'POST', '/orders', '{"accountId": "a", ', { 'content-type': 'application/json' });
      expectStatus(bad, 400);
      expect(errorOf(bad).message).toMatch(/JSON/);
      const big = await call(
        app,
        'POST',
        '/orders',
        orderBody([line()], { shippingAddress: { ...ADDRESS, line2: 'x'.repeat(101 * 1024) } }),
      );
      expectStatus(big, 413);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });
  });
});
