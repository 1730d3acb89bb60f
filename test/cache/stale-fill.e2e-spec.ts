import { CategoriesService } from '../../apps/bff/src/catalog/categories.service';
import { ProductsService } from '../../apps/bff/src/catalog/products.service';
import { RedisCacheStore } from '@app/cache';
import { createCategoryWithProduct, createProduct } from '../harness/fixtures';
import { Gate } from '../harness/gate';
import { useSeededBff } from '../harness/seeded-bff';
import {
  App,
  call,
  counters,
  delta,
  expectStatus,
  get,
  get200,
  holdFirstCall,
  json,
  l1Of,
  rawRedis,
  settle,
  waitForCdc,
  within,
  xcache,
} from './support';

/**
 * docs/contract.md §5.4, made deterministic: a fill reads the source (t1), the data changes
 * and is invalidated, then the fill tries to write (t2). The fill must be
 * discarded in both tiers, returned to its caller, and counted.
 *
 * Writes invalidate only through the CDC pipeline (docs/contract.md §1), so each test holds
 * the fill open until the change has been processed (waitForCdc / settle), and
 * settles the setup's own invalidations before the fill starts: one landing
 * during the held fill would discard it for the wrong reason.
 */
describe('stale fills are discarded', () => {
  // `app` fills (its source reads are held open); `other` is a second instance on the same Redis.
  const suite = useSeededBff({ instances: 2 });
  const redis = rawRedis();

  afterEach(() => jest.restoreAllMocks());
  afterAll(() => redis.disconnect());

  const entryExists = async (key: string) => (await redis.exists(`${suite.ctx.redisPrefix}${key}`)) === 1;

  /** Opens once a lease request of `app` was refused: from then on it waits for the holder's entry. */
  function leaseRefused(app: App): Gate {
    const refused = new Gate();
    const store = app.get(RedisCacheStore);
    const acquire = store.acquireLease.bind(store);
    jest.spyOn(store, 'acquireLease').mockImplementation(async (...args) => {
      const sequence = await acquire(...args);
      if (sequence === undefined) refused.open();
      return sequence;
    });
    return refused;
  }

  it('a product fill that raced with a change + invalidation returns the old body, is not stored, and is counted', async () => {
    const [app, other] = suite.apps;
    const { product } = await createCategoryWithProduct(app, { name: 'Old name' });
    const url = `/catalog/products/${product.id}`;
    await Promise.all([settle(app), settle(other)]);
    const before = await counters(app, 'catalog', 'product');
    const held = holdFirstCall(app.get(ProductsService), 'get');

    const pending = get(app, url);
    await held.read;
    // The change lands after the fill read the row: plain SQL, invalidated by the CDC pipeline alone.
    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'New name' WHERE id = $1`, [product.id]);
    await waitForCdc(app);
    held.release();

    const stale = await pending;
    expect(stale.statusCode).toBe(200);
    expect(json(stale).name).toBe('Old name'); // the truth at t1, still answered to its caller
    expect(xcache(stale)).toBe('MISS');
    expect(delta(before, await counters(app, 'catalog', 'product'))).toEqual({ misses: 1, staleFillsDiscarded: 1 });
    expect(await entryExists(`catalog:product:${product.id}`)).toBe(false);
    expect(l1Of(app).get(`catalog:product:${product.id}`)).toBeUndefined();

    // The invalidation's echo must not land during the refill (it would keep it out of L1).
    await settle(app);
    const next = await get200(app, url);
    expect(xcache(next)).toBe('MISS');
    expect(json(next).name).toBe('New name');
    expect(xcache(await get200(app, url))).toBe('HIT-L1');
    expect(json(await get200(other, url)).name).toBe('New name');
  });

  it('the same race with the change made by a PATCH on another instance', async () => {
    const [app, other] = suite.apps;
    const { product } = await createCategoryWithProduct(app, { priceCents: 100 });
    const url = `/catalog/products/${product.id}`;
    await Promise.all([settle(app), settle(other)]);
    const before = await counters(app, 'catalog', 'product');
    const held = holdFirstCall(app.get(ProductsService), 'get');

    const pending = get(app, url);
    await held.read;
    expectStatus(await call(other, 'PATCH', url, { priceCents: 200 }), 200);
    await waitForCdc(app);
    held.release();

    expect(json(await pending).priceCents).toBe(100);
    expect(delta(before, await counters(app, 'catalog', 'product'))).toEqual({ misses: 1, staleFillsDiscarded: 1 });
    expect(await entryExists(`catalog:product:${product.id}`)).toBe(false);
    await Promise.all([settle(app), settle(other)]);
    for (const instance of [app, other]) {
      const res = await get200(instance, url);
      expect(json(res).priceCents).toBe(200);
    }
  });

  it('a listing fill held open while a product of its category changes is discarded (dependency fence)', async () => {
    const [app, other] = suite.apps;
    const { product, category } = await createCategoryWithProduct(app, { priceCents: 500 });
    await createProduct(app, category.id);
    const url = `/catalog/categories/${category.slug}/products`;
    await Promise.all([settle(app), settle(other)]);
    const before = await counters(app, 'catalog', 'listing');
    const held = holdFirstCall(app.get(CategoriesService), 'listing');

    const pending = get(app, url);
    await held.read;
    // The listing's key is in no dependency set yet (its first fill is in flight): only the fence can catch this.
    // A price change names the product only (no membership change): the fence on its dependency must do it.
    await suite.ctx.sql.query(`UPDATE catalog.products SET price_cents = 900 WHERE id = $1`, [product.id]);
    await waitForCdc(app);
    held.release();

    const stale = await pending;
    expect(json(stale).products.find((p: any) => p.id === product.id).priceCents).toBe(500);
    expect(delta(before, await counters(app, 'catalog', 'listing'))).toEqual({ misses: 1, staleFillsDiscarded: 1 });
    expect(await entryExists(`catalog:listing:${category.slug}`)).toBe(false);

    const next = await get200(app, url);
    expect(xcache(next)).toBe('MISS');
    expect(json(next).products.find((p: any) => p.id === product.id).priceCents).toBe(900);
  });

  it.each([
    ['on the instance that is filling', 0],
    ['on another instance, once the invalidation reached it', 1],
  ])('a read sent after the invalidation does not join the stale fill still in flight: %s', async (_, readerIndex) => {
    const [app, other] = suite.apps;
    const reader = suite.apps[readerIndex];
    const { product } = await createCategoryWithProduct(app, { name: 'Before' });
    const url = `/catalog/products/${product.id}`;
    await Promise.all([settle(app), settle(other)]);
    const held = holdFirstCall(reader.get(ProductsService), 'get');

    const pending = get(reader, url);
    await held.read;
    expectStatus(await call(app, 'PATCH', url, { name: 'After' }), 200);
    // Processed (docs/contract.md §9.1), and every invalidation published before has reached the reader (whichever
    // instance's subscriber applied it).
    await settle(reader);

    // After the invalidation: the read must see the write, and must not wait for the doomed fill.
    const afterWrite = await within(get(reader, url), 2000);
    held.release();
    expect(afterWrite).not.toBe('pending');
    if (afterWrite === 'pending') return;
    expect(json(afterWrite).name).toBe('After');
    expect(json(await pending).name).toBe('Before');
    expect(json(await get200(reader, url)).name).toBe('After');
  });

  it("another instance waiting on a doomed fill's lease fills afresh instead of waiting for it", async () => {
    const [app, other] = suite.apps;
    const { product } = await createCategoryWithProduct(app, { name: 'Before' });
    const url = `/catalog/products/${product.id}`;
    await Promise.all([settle(app), settle(other)]);
    const held = holdFirstCall(app.get(ProductsService), 'get');

    const pending = get(app, url);
    await held.read;
    // `other` misses L2 and is refused the lease app holds: from then on it waits for app's entry.
    const refused = leaseRefused(other);
    const waiting = get(other, url);
    await refused.promise;
    // The write's invalidation (CDC) revokes the lease: the waiter takes it and reads the new row.
    expectStatus(await call(app, 'PATCH', url, { name: 'After' }), 200);
    await waitForCdc(app);
    const waited = await within(waiting, 1500);
    held.release();
    expect(waited).not.toBe('pending');
    if (waited === 'pending') return;
    expect(json(waited).name).toBe('After');
    expect(json(await pending).name).toBe('Before');
    for (const instance of [app, other]) expect(json(await get200(instance, url)).name).toBe('After');
  });
});
