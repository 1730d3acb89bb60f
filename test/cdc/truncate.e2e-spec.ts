import { eventually } from '../../tools/eventually';
import { randomUUID } from 'node:crypto';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FillFence, RedisCacheStore } from '@app/cache';
import { waitForCdc } from '../harness/cdc';
import { createOrder } from '../harness/fixtures';
import { useTestContext } from '../harness/test-context';
import { catalogUrls, expectViewsEqual, Reader, seedCatalog, startCdcInstances, uniq, warm } from './support';

/**
 * docs/contract.md §5.9, §6.1: TRUNCATE fires no row trigger. A statement-level trigger on
 * every captured table emits `<domain>.<aggregate>.truncated` (aggregate id
 * `*`), one per truncated table, and the subscriber drops every view of the
 * domain: in L2, in the L1 of the instance applying it and of every other
 * instance (through the channel), fenced against fills in flight.
 *
 * The truncating statement is plain SQL, so the only path to the cache is the
 * pipeline (relay and subscriber on `reader`). the other instance runs no CDC and shares
 * the prefix: its L1 is cleared only by the channel's flush.
 */
describe('CDC: TRUNCATE drops every cached view of the domain', () => {
  const ctx = useTestContext();
  let reader: NestFastifyApplication;
  let cached: Reader;
  let cachedOther: Reader;
  let source: Reader;

  beforeAll(async () => {
    ({ reader, cached, cachedOther, source } = await startCdcInstances(ctx()));
  });

  async function mark(): Promise<number> {
    return Number((await ctx().sql.query(`SELECT coalesce(max(id), 0) AS id FROM cdc.outbox`)).rows[0].id);
  }

  async function eventsAfter(id: number): Promise<{ type: string; source: string; aggregate_id: string }[]> {
    const { rows } = await ctx().sql.query(
      `SELECT type, source, aggregate_id FROM cdc.outbox WHERE id > $1 ORDER BY source COLLATE "C"`,
      [id],
    );
    return rows;
  }

  it('orders: an order and its account’s list answer 404 and [] after TRUNCATE orders.orders CASCADE', async () => {
    const seeded = await seedCatalog(ctx().sql, 1, 2);
    const accountId = `acct-${uniq()}`;
    const orders = [
      await createOrder(reader, [{ productId: seeded.products[0].id, quantity: 1 }], { accountId }),
      await createOrder(reader, [{ productId: seeded.products[1].id, quantity: 2 }], { accountId }),
    ];
    await waitForCdc(reader);
    const orderUrls = [...orders.map((o) => `/orders/${o.id}`), `/accounts/${accountId}/orders`];
    const catalogViews = catalogUrls(seeded);
    for (const read of [cached, cachedOther]) await warm(read, [...orderUrls, ...catalogViews]);
    expect((await cached(`/accounts/${accountId}/orders`)).body).toHaveLength(2);

    const before = await mark();
    await ctx().sql.query(`TRUNCATE orders.orders CASCADE`);
    // One event per truncated table, the cascade included: "every order is gone".
    expect(await eventsAfter(before)).toEqual([
      { type: 'orders.order.truncated', source: 'postgres:orders.order_items', aggregate_id: '*' },
      { type: 'orders.order.truncated', source: 'postgres:orders.orders', aggregate_id: '*' },
    ]);
    await waitForCdc(reader);

    for (const read of [cached, cachedOther]) {
      await eventually(async () => {
        for (const o of orders) expect(await read(`/orders/${o.id}`)).toMatchObject({ status: 404 });
        expect(await read(`/accounts/${accountId}/orders`)).toMatchObject({ status: 200, body: [] });
      });
      await expectViewsEqual(read, source, [...orderUrls, ...catalogViews]);
    }
    // Only the orders domain: the catalog views were not touched.
    for (const url of catalogViews) expect((await cached(url)).cache).toBe('HIT-L1');
  });

  it('catalog: details, availability, listings and counts follow TRUNCATE catalog.products CASCADE', async () => {
    const seeded = await seedCatalog(ctx().sql, 2, 2);
    await waitForCdc(reader);
    const urls = catalogUrls(seeded);
    for (const read of [cached, cachedOther]) await warm(read, urls);

    const before = await mark();
    await ctx().sql.query(`TRUNCATE catalog.products CASCADE`);
    expect(await eventsAfter(before)).toEqual([
      { type: 'catalog.product.truncated', source: 'postgres:catalog.products', aggregate_id: '*' },
      { type: 'catalog.stock.truncated', source: 'postgres:catalog.stock_levels', aggregate_id: '*' },
    ]);
    await waitForCdc(reader);

    for (const read of [cached, cachedOther]) {
      await eventually(async () => {
        for (const p of seeded.products) {
          expect(await read(`/catalog/products/${p.id}`)).toMatchObject({ status: 404 });
          expect(await read(`/catalog/products/${p.id}/availability`)).toMatchObject({ status: 404 });
        }
        for (const c of seeded.categories) {
          expect(await read(`/catalog/categories/${c.slug}/products`)).toMatchObject({
            status: 200,
            body: { products: [] },
          });
        }
        const categories = (await read('/catalog/categories')).body as { id: string; productCount: number }[];
        for (const c of seeded.categories) expect(categories.find((x) => x.id === c.id)?.productCount).toBe(0);
      });
      await expectViewsEqual(read, source, urls);
    }
  });

  it('fences the domain: a fill whose lease predates the drop is refused, a later one and other domains are not', async () => {
    const store = reader.get(RedisCacheStore);
    const fill = (key: string, fence: FillFence, token: string) =>
      store.fill(key, Buffer.from('{}'), { fence, token, ttlMs: 60_000, dependencies: [] });
    const catalogKey = `catalog:product:${randomUUID()}`;
    const ordersKey = `orders:detail:${randomUUID()}`;
    const early = (await store.acquireLease(catalogKey, 'early', 5000, true))!;
    const otherDomain = (await store.acquireLease(ordersKey, 'orders', 5000, true))!;

    await store.invalidateAll('catalog', 'test');

    expect(await fill(catalogKey, early, 'early')).toBe('fenced');
    expect(await store.get(catalogKey)).toBeNull();
    const late = (await store.acquireLease(catalogKey, 'late', 5000, true))!;
    expect(await fill(catalogKey, late, 'late')).toBe('written');
    expect(await fill(ordersKey, otherDomain, 'orders')).toBe('written');
    await store.invalidateAll('orders', 'test');
    expect(await store.get(ordersKey)).toBeNull();
    expect(await store.get(catalogKey)).not.toBeNull();
  });
});
