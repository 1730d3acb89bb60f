import { CategoriesService } from '../../apps/bff/src/catalog/categories.service';
import { ProductsService } from '../../apps/bff/src/catalog/products.service';
import { OrdersService } from '../../apps/bff/src/orders/orders.service';
import { RedisCacheStore } from '@app/cache';
import { createCategoryWithProduct, createOrder } from '../harness/fixtures';
import { useTestContext } from '../harness/test-context';
import { App, counters, delta, Gate, get, get200, json, Response, settle, slowSource, xcache } from './support';

/**
 * SPEC §5.3 / §9.4: concurrent misses for one key are served by one source
 * read, in one process (single-flight) and across instances (Redis lease).
 * Source reads are counted by spying on the service method the cached handler
 * calls (calling through to Postgres), slowed down so the misses overlap.
 */

const N = 50;
const SOURCE_DELAY_MS = 250;

function expectOneRepresentation(responses: Response[]): void {
  for (const res of responses) expect(res.statusCode).toBe(200);
  expect(new Set(responses.map((r) => r.body)).size).toBe(1);
  expect(new Set(responses.map((r) => r.headers.etag)).size).toBe(1);
}

describe('coalescing in one process', () => {
  const ctx = useTestContext();
  let app: App;

  beforeAll(async () => {
    app = await ctx().startBff();
  });

  afterEach(() => jest.restoreAllMocks());

  it(`${N} concurrent cold GETs of a product → exactly one source read; health shows misses 1, coalesced ${N - 1}`, async () => {
    const { product } = await createCategoryWithProduct(app);
    // The creation's invalidations (CDC) must not land during the fill (it would be discarded as stale).
    await settle(app);
    const source = slowSource(app.get(ProductsService), 'get', SOURCE_DELAY_MS);
    const before = await counters(app, 'catalog', 'product');

    const responses = await Promise.all(Array.from({ length: N }, () => get(app, `/catalog/products/${product.id}`)));

    expect(source).toHaveBeenCalledTimes(1);
    expectOneRepresentation(responses);
    expect(json(responses[0]).id).toBe(product.id);
    expect(delta(before, await counters(app, 'catalog', 'product'))).toEqual({ misses: 1, coalesced: N - 1 });
    // And the one fill serves what follows.
    expect(xcache(await get200(app, `/catalog/products/${product.id}`))).toBe('HIT-L1');
    expect(source).toHaveBeenCalledTimes(1);
  });

  it('coalesces listings and orders the same way', async () => {
    const { product, category } = await createCategoryWithProduct(app);
    const order = await createOrder(app, [{ productId: product.id, quantity: 1 }]);
    await settle(app);
    const listing = slowSource(app.get(CategoriesService), 'listing', SOURCE_DELAY_MS);
    const detail = slowSource(app.get(OrdersService), 'get', SOURCE_DELAY_MS);
    const before = await counters(app, 'orders', 'detail');

    const [listings, details] = await Promise.all([
      Promise.all(Array.from({ length: 20 }, () => get(app, `/catalog/categories/${category.slug}/products`))),
      Promise.all(Array.from({ length: 20 }, () => get(app, `/orders/${order.id}`))),
    ]);

    expect(listing).toHaveBeenCalledTimes(1);
    expect(detail).toHaveBeenCalledTimes(1);
    expectOneRepresentation(listings);
    expectOneRepresentation(details);
    expect(delta(before, await counters(app, 'orders', 'detail'))).toEqual({ misses: 1, coalesced: 19 });
  });

  it('a failing source read reaches every waiter, is not cached, and the next read tries again', async () => {
    const missing = '/catalog/products/00000000-0000-4000-8000-00000000c0a1';
    const source = slowSource(app.get(ProductsService), 'get', SOURCE_DELAY_MS);
    const responses = await Promise.all(Array.from({ length: 10 }, () => get(app, missing)));
    for (const res of responses) expect(res.statusCode).toBe(404);
    expect(source).toHaveBeenCalledTimes(1);
    expect((await get(app, missing)).statusCode).toBe(404);
    expect(source).toHaveBeenCalledTimes(2);
  });
});

describe('coalescing across two instances', () => {
  const ctx = useTestContext();
  let a: App;
  let b: App;

  beforeAll(async () => {
    [a, b] = [await ctx().startBff(), await ctx().startBff()];
  });

  afterEach(() => jest.restoreAllMocks());

  it(`${N} concurrent cold GETs split over two instances → exactly one source read in total`, async () => {
    const { product } = await createCategoryWithProduct(a);
    await Promise.all([settle(a), settle(b)]);
    const url = `/catalog/products/${product.id}`;
    const sources = [
      slowSource(a.get(ProductsService), 'get', SOURCE_DELAY_MS),
      slowSource(b.get(ProductsService), 'get', SOURCE_DELAY_MS),
    ];
    const before = [await counters(a, 'catalog', 'product'), await counters(b, 'catalog', 'product')];

    const responses = await Promise.all(Array.from({ length: N }, (_, i) => get(i % 2 ? b : a, url)));

    expect(sources[0].mock.calls.length + sources[1].mock.calls.length).toBe(1);
    expectOneRepresentation(responses);
    for (const res of responses) expect(['MISS', 'HIT-L2']).toContain(xcache(res));
    const moved = [
      delta(before[0], await counters(a, 'catalog', 'product')),
      delta(before[1], await counters(b, 'catalog', 'product')),
    ];
    // Every request counts once: one source read, everything else waited for it.
    expect((moved[0].misses ?? 0) + (moved[1].misses ?? 0)).toBe(1);
    expect((moved[0].coalesced ?? 0) + (moved[1].coalesced ?? 0)).toBe(N - 1);
    // The instance that waited keeps the value it was handed in its own L1.
    for (const app of [a, b]) expect(xcache(await get200(app, url))).toBe('HIT-L1');
  });

  it('an instance that finds the lease free only after the other filled does not read the source again', async () => {
    const { product } = await createCategoryWithProduct(a);
    await Promise.all([settle(a), settle(b)]);
    const url = `/catalog/products/${product.id}`;
    const sources = [slowSource(a.get(ProductsService), 'get', 0), slowSource(b.get(ProductsService), 'get', 0)];

    // b misses L2, then is held just before it asks for the lease; meanwhile a fills and lets the lease go.
    const store = b.get(RedisCacheStore);
    const acquire = store.acquireLease.bind(store);
    const bAsked = new Gate();
    const aDone = new Gate();
    jest.spyOn(store, 'acquireLease').mockImplementation(async (...args) => {
      bAsked.open();
      await aDone.promise;
      return acquire(...args);
    });
    const fromB = get(b, url);
    await bAsked.promise;
    const fromA = await get200(a, url);
    expect(xcache(fromA)).toBe('MISS');
    aDone.open();

    const late = await fromB;
    expect(late.statusCode).toBe(200);
    expect(late.body).toBe(fromA.body);
    expect(sources[0].mock.calls.length + sources[1].mock.calls.length).toBe(1);
  });
});
