import { Pool } from 'pg';
import { createCategoryWithProduct, createOrder, createProduct, snapshotDatabase } from '../harness/fixtures';
import { HttpMethod } from '../harness/http';
import { useSeededBff } from '../harness/seeded-bff';
import { App, call, expectStatus, get200, json, Response, settle, xcache } from './support';

/**
 * docs/contract.md §3: writes accept `If-Match: <etag of the resource's GET>`; the current
 * ETag lets the write through, a stale one is refused with 412 and nothing is
 * written. Each case gets the ETag from the cached GET, makes it stale with
 * another write, and checks the database with SQL.
 */

interface Case {
  name: string;
  /** Creates what the write acts on; returns the GET whose ETag guards the write, the write, and a different change. */
  setup(app: App): Promise<{
    resource: string;
    write: { method: HttpMethod; url: string; body?: unknown };
    /** A change through the API (invalidating the cache) that makes the ETag taken before it stale. */
    interfere: () => Promise<unknown>;
    /** Checks with SQL that the write happened. */
    written: (sql: Pool) => Promise<void>;
    status: number;
  }>;
}

async function order(app: App, quantity = 2) {
  const { product, category } = await createCategoryWithProduct(app, { stock: 100 });
  const other = await createProduct(app, category.id, { stock: 100 });
  const created = await createOrder(app, [{ productId: product.id, quantity }]);
  return { order: created, product, other, item: created.items[0] };
}

async function one(sql: Pool, query: string, params: unknown[]): Promise<any> {
  return (await sql.query(query, params)).rows[0];
}

const cases: Case[] = [
  {
    name: 'PUT /catalog/products/:id',
    async setup(app) {
      const { product } = await createCategoryWithProduct(app);
      const url = `/catalog/products/${product.id}`;
      return {
        resource: url,
        write: {
          method: 'PUT',
          url,
          body: {
            sku: product.sku,
            name: 'Replaced',
            priceCents: 999,
            currency: 'EUR',
            categoryId: product.categoryId,
          },
        },
        interfere: () => call(app, 'PATCH', url, { description: 'someone else' }),
        written: async (sql) =>
          expect(await one(sql, 'SELECT name, description FROM catalog.products WHERE id = $1', [product.id])).toEqual({
            name: 'Replaced',
            description: '',
          }),
        status: 200,
      };
    },
  },
  {
    name: 'PATCH /catalog/products/:id',
    async setup(app) {
      const { product } = await createCategoryWithProduct(app);
      const url = `/catalog/products/${product.id}`;
      return {
        resource: url,
        write: { method: 'PATCH', url, body: { priceCents: 777 } },
        interfere: () => call(app, 'PATCH', url, { name: 'Someone else' }),
        written: async (sql) =>
          expect(await one(sql, 'SELECT price_cents FROM catalog.products WHERE id = $1', [product.id])).toEqual({
            price_cents: 777,
          }),
        status: 200,
      };
    },
  },
  {
    name: 'DELETE /catalog/products/:id',
    async setup(app) {
      const { product } = await createCategoryWithProduct(app);
      const url = `/catalog/products/${product.id}`;
      return {
        resource: url,
        write: { method: 'DELETE', url },
        interfere: () => call(app, 'PATCH', url, { priceCents: 1 }),
        written: async (sql) =>
          expect(await one(sql, 'SELECT count(*)::int AS n FROM catalog.products WHERE id = $1', [product.id])).toEqual(
            { n: 0 },
          ),
        status: 204,
      };
    },
  },
  {
    name: 'PUT /catalog/products/:id/stock (ETag of the availability)',
    async setup(app) {
      const { product } = await createCategoryWithProduct(app, { stock: 3 });
      const url = `/catalog/products/${product.id}/stock`;
      return {
        resource: `/catalog/products/${product.id}/availability`,
        write: { method: 'PUT', url, body: { quantity: 42 } },
        interfere: () => call(app, 'PUT', url, { quantity: 4 }),
        written: async (sql) =>
          expect(
            await one(sql, 'SELECT quantity FROM catalog.stock_levels WHERE product_id = $1', [product.id]),
          ).toEqual({ quantity: 42 }),
        status: 200,
      };
    },
  },
  {
    name: 'PATCH /orders/:id',
    async setup(app) {
      const { order: o, item } = await order(app);
      const url = `/orders/${o.id}`;
      return {
        resource: url,
        write: { method: 'PATCH', url, body: { status: 'paid' } },
        interfere: () => call(app, 'PATCH', `${url}/items/${item.id}`, { quantity: 3 }),
        written: async (sql) =>
          expect(await one(sql, 'SELECT status FROM orders.orders WHERE id = $1', [o.id])).toEqual({ status: 'paid' }),
        status: 200,
      };
    },
  },
  {
    name: 'DELETE /orders/:id',
    async setup(app) {
      const { order: o, item } = await order(app);
      const url = `/orders/${o.id}`;
      return {
        resource: url,
        write: { method: 'DELETE', url },
        interfere: () => call(app, 'PATCH', `${url}/items/${item.id}`, { quantity: 1 }),
        written: async (sql) =>
          expect(await one(sql, 'SELECT count(*)::int AS n FROM orders.orders WHERE id = $1', [o.id])).toEqual({
            n: 0,
          }),
        status: 204,
      };
    },
  },
  {
    name: 'POST /orders/:id/items',
    async setup(app) {
      const { order: o, item, other } = await order(app);
      const url = `/orders/${o.id}`;
      return {
        resource: url,
        write: { method: 'POST', url: `${url}/items`, body: { productId: other.id, quantity: 5 } },
        interfere: () => call(app, 'PATCH', `${url}/items/${item.id}`, { quantity: 4 }),
        written: async (sql) =>
          expect(
            await one(sql, 'SELECT quantity FROM orders.order_items WHERE order_id = $1 AND product_id = $2', [
              o.id,
              other.id,
            ]),
          ).toEqual({ quantity: 5 }),
        status: 201,
      };
    },
  },
  {
    name: 'PATCH /orders/:id/items/:itemId',
    async setup(app) {
      const { order: o, item, other } = await order(app);
      const url = `/orders/${o.id}`;
      return {
        resource: url,
        write: { method: 'PATCH', url: `${url}/items/${item.id}`, body: { quantity: 9 } },
        interfere: () => call(app, 'POST', `${url}/items`, { productId: other.id, quantity: 1 }),
        written: async (sql) =>
          expect(await one(sql, 'SELECT quantity FROM orders.order_items WHERE id = $1', [item.id])).toEqual({
            quantity: 9,
          }),
        status: 200,
      };
    },
  },
  {
    name: 'DELETE /orders/:id/items/:itemId',
    async setup(app) {
      const { order: o, item, other } = await order(app);
      const url = `/orders/${o.id}`;
      return {
        resource: url,
        write: { method: 'DELETE', url: `${url}/items/${item.id}` },
        interfere: () => call(app, 'POST', `${url}/items`, { productId: other.id, quantity: 1 }),
        written: async (sql) =>
          expect(await one(sql, 'SELECT count(*)::int AS n FROM orders.order_items WHERE id = $1', [item.id])).toEqual({
            n: 0,
          }),
        status: 200,
      };
    },
  },
];

describe('If-Match on writes (optimistic concurrency)', () => {
  const suite = useSeededBff();

  const send = (w: { method: HttpMethod; url: string; body?: unknown }, ifMatch: string): Promise<Response> =>
    call(suite.bff, w.method, w.url, w.body, { 'if-match': ifMatch });

  it.each(cases.map((c) => [c.name, c] as const))(
    '%s: a stale ETag → 412 and nothing written; the current one → success',
    async (_, c) => {
      const app = suite.bff;
      const { resource, write, interfere, written, status } = await c.setup(app);
      await settle(app);
      const stale = await get200(app, resource);
      // Taken from the cache, as a client would get it.
      expect(xcache(await get200(app, resource))).toBe('HIT-L1');
      const staleEtag = String(stale.headers.etag);

      const interfered = (await interfere()) as Response;
      if (interfered.statusCode >= 300)
        throw new Error(`interfering write failed: ${interfered.statusCode} ${interfered.body}`);
      // Its invalidation comes through CDC, a moment after it answered.
      await settle(app);

      const before = await snapshotDatabase(suite.ctx.sql);
      const refused = await send(write, staleEtag);
      expectStatus(refused, 412);
      expect(json(refused)).toMatchObject({ statusCode: 412, error: 'Precondition Failed' });
      expect(await snapshotDatabase(suite.ctx.sql)).toEqual(before);

      // A weak validator never passes the strong comparison.
      const current = await get200(app, resource);
      expect(current.headers.etag).not.toBe(staleEtag);
      const currentEtag = String(current.headers.etag);
      expectStatus(await send(write, `W/${currentEtag}`), 412);
      expect(await snapshotDatabase(suite.ctx.sql)).toEqual(before);

      const accepted = await send(write, currentEtag);
      expectStatus(accepted, status);
      await written(suite.ctx.sql);

      // The write invalidated the resource (through CDC): its GET shows the new state, not the cached one.
      await settle(app);
      const after = await call(app, 'GET', resource);
      if (after.statusCode === 200) {
        expect(xcache(after)).toBe('MISS');
        expect(after.headers.etag).not.toBe(currentEtag);
      } else {
        expect(after.statusCode).toBe(404);
      }
    },
  );

  it('accepts If-Match: * and a list that contains the current ETag', async () => {
    const app = suite.bff;
    const { product } = await createCategoryWithProduct(app);
    const url = `/catalog/products/${product.id}`;
    expectStatus(await call(app, 'PATCH', url, { priceCents: 10 }, { 'if-match': '*' }), 200);
    const etag = String((await get200(app, url)).headers.etag);
    expectStatus(await call(app, 'PATCH', url, { priceCents: 11 }, { 'if-match': `"old", ${etag}` }), 200);
    await settle(app);
    expect(json(await get200(app, url)).priceCents).toBe(11);
  });
});
