import { CategoriesService } from '../../apps/bff/src/catalog/categories.service';
import { ProductsService } from '../../apps/bff/src/catalog/products.service';
import { OrdersService } from '../../apps/bff/src/orders/orders.service';
import { RedisCacheStore } from '@app/cache';
import { eventually } from '../../tools/eventually';
import { createCategoryWithProduct, createOrder } from '../harness/fixtures';
import { Gate } from '../harness/gate';
import { useSeededBff } from '../harness/seeded-bff';
import { App, Counters, counters, delta, get, get200, holdFirstCall, json, Response, settle, xcache } from './support';

/**
 * docs/contract.md §5.3 / §9.4: concurrent misses for one key are served by one source
 * read, in one process (single-flight) and across instances (Redis lease).
 * Source reads are counted by spying on the service method the cached handler
 * calls (calling through to Postgres). The one read is held open until every
 * other request has joined it, so the misses overlap for certain.
 */

const N = 50;

/** Requests that joined a fill in flight in their own process: `coalesced` moves as they join, not when answered. */
async function joinedSince(app: App, domain: 'catalog' | 'orders', bucket: string, before: Counters): Promise<number> {
  return (await counters(app, domain, bucket)).coalesced - before.coalesced;
}

/** Until `n` requests (since `before`) have joined the fill in flight instead of reading the source. */
async function joined(app: App, domain: 'catalog' | 'orders', bucket: string, before: Counters, n: number) {
  await eventually(async () => expect(await joinedSince(app, domain, bucket, before)).toBe(n), {
    message: `${n} ${bucket} requests to join the fill in flight`,
  });
}

/** Counts this instance's lease requests that were refused (another instance holds the lease). */
function countRefusedLeases(app: App): () => number {
  const store = app.get(RedisCacheStore);
  const acquire = store.acquireLease.bind(store);
  let refused = 0;
  jest.spyOn(store, 'acquireLease').mockImplementation(async (...args) => {
    const sequence = await acquire(...args);
    if (sequence === undefined) refused++;
    return sequence;
  });
  return () => refused;
}

function expectOneRepresentation(responses: Response[]): void {
  for (const res of responses) expect(res.statusCode).toBe(200);
  expect(new Set(responses.map((r) => r.body)).size).toBe(1);
  expect(new Set(responses.map((r) => r.headers.etag)).size).toBe(1);
}

describe('coalescing in one process', () => {
  const suite = useSeededBff();

  afterEach(() => jest.restoreAllMocks());

  it(`${N} concurrent cold GETs of a product → exactly one source read; health shows misses 1, coalesced ${N - 1}`, async () => {
    const app = suite.bff;
    const { product } = await createCategoryWithProduct(app);
    // The creation's invalidations (CDC) must not land during the fill (it would be discarded as stale).
    await settle(app);
    const source = holdFirstCall(app.get(ProductsService), 'get');
    const before = await counters(app, 'catalog', 'product');

    const requests = Promise.all(Array.from({ length: N }, () => get(app, `/catalog/products/${product.id}`)));
    try {
      await source.read;
      await joined(app, 'catalog', 'product', before, N - 1);
    } finally {
      source.release();
    }
    const responses = await requests;

    expect(source.spy).toHaveBeenCalledTimes(1);
    expectOneRepresentation(responses);
    expect(json(responses[0]).id).toBe(product.id);
    expect(delta(before, await counters(app, 'catalog', 'product'))).toEqual({ misses: 1, coalesced: N - 1 });
    // And the one fill serves what follows.
    expect(xcache(await get200(app, `/catalog/products/${product.id}`))).toBe('HIT-L1');
    expect(source.spy).toHaveBeenCalledTimes(1);
  });

  it('coalesces listings and orders the same way', async () => {
    const app = suite.bff;
    const { product, category } = await createCategoryWithProduct(app);
    const order = await createOrder(app, [{ productId: product.id, quantity: 1 }]);
    await settle(app);
    const listing = holdFirstCall(app.get(CategoriesService), 'listing');
    const detail = holdFirstCall(app.get(OrdersService), 'get');
    const before = {
      listing: await counters(app, 'catalog', 'listing'),
      detail: await counters(app, 'orders', 'detail'),
    };

    const requests = Promise.all([
      Promise.all(Array.from({ length: 20 }, () => get(app, `/catalog/categories/${category.slug}/products`))),
      Promise.all(Array.from({ length: 20 }, () => get(app, `/orders/${order.id}`))),
    ]);
    try {
      await Promise.all([listing.read, detail.read]);
      await joined(app, 'catalog', 'listing', before.listing, 19);
      await joined(app, 'orders', 'detail', before.detail, 19);
    } finally {
      listing.release();
      detail.release();
    }
    const [listings, details] = await requests;

    expect(listing.spy).toHaveBeenCalledTimes(1);
    expect(detail.spy).toHaveBeenCalledTimes(1);
    expectOneRepresentation(listings);
    expectOneRepresentation(details);
    expect(delta(before.listing, await counters(app, 'catalog', 'listing'))).toEqual({ misses: 1, coalesced: 19 });
    expect(delta(before.detail, await counters(app, 'orders', 'detail'))).toEqual({ misses: 1, coalesced: 19 });
  });

  it('a failing source read reaches every waiter, is not cached, and the next read tries again', async () => {
    const app = suite.bff;
    const missing = '/catalog/products/00000000-0000-4000-8000-00000000c0a1';
    const source = holdFirstCall(app.get(ProductsService), 'get');
    const before = await counters(app, 'catalog', 'product');
    const requests = Promise.all(Array.from({ length: 10 }, () => get(app, missing)));
    try {
      await source.read;
      await joined(app, 'catalog', 'product', before, 9);
    } finally {
      source.release();
    }
    for (const res of await requests) expect(res.statusCode).toBe(404);
    expect(source.spy).toHaveBeenCalledTimes(1);
    expect((await get(app, missing)).statusCode).toBe(404);
    expect(source.spy).toHaveBeenCalledTimes(2);
  });
});

describe('coalescing across two instances', () => {
  const suite = useSeededBff({ instances: 2 });

  afterEach(() => jest.restoreAllMocks());

  it(`${N} concurrent cold GETs split over two instances → exactly one source read in total`, async () => {
    const [a, b] = suite.apps;
    const { product } = await createCategoryWithProduct(a);
    await Promise.all([settle(a), settle(b)]);
    const url = `/catalog/products/${product.id}`;
    const sources = [holdFirstCall(a.get(ProductsService), 'get'), holdFirstCall(b.get(ProductsService), 'get')];
    const refused = [countRefusedLeases(a), countRefusedLeases(b)];
    const before = [await counters(a, 'catalog', 'product'), await counters(b, 'catalog', 'product')];

    const requests = Promise.all(Array.from({ length: N }, (_, i) => get(i % 2 ? b : a, url)));
    try {
      // One instance takes the lease and reads the source (held open); its other requests join that read. On the
      // other instance one request was refused the lease and waits for the entry; its other requests join that one.
      await Promise.race(sources.map((s) => s.read));
      await eventually(
        async () => {
          const joinedInProcess =
            (await joinedSince(a, 'catalog', 'product', before[0])) +
            (await joinedSince(b, 'catalog', 'product', before[1]));
          const leaseRefused = refused[0]() + refused[1]() > 0;
          expect({ joinedInProcess, leaseRefused }).toEqual({ joinedInProcess: N - 2, leaseRefused: true });
        },
        { message: `${N - 2} requests to join a fill in flight and one to wait for the other instance's lease` },
      );
    } finally {
      for (const source of sources) source.release();
    }
    const responses = await requests;

    expect(sources[0].spy.mock.calls.length + sources[1].spy.mock.calls.length).toBe(1);
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
    const [a, b] = suite.apps;
    const { product } = await createCategoryWithProduct(a);
    await Promise.all([settle(a), settle(b)]);
    const url = `/catalog/products/${product.id}`;
    // Spies that call through: they count source reads.
    const sources = [jest.spyOn(a.get(ProductsService), 'get'), jest.spyOn(b.get(ProductsService), 'get')];

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
