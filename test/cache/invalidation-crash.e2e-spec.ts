import type { Redis } from 'ioredis';
import { RedisCacheStore, RedisNames } from '@app/cache';
import { CDC_OFF } from '../harness/cdc';
import { createCategoryWithProduct } from '../harness/fixtures';
import { useSeededBff } from '../harness/seeded-bff';
import { get200, rawRedis, xcache } from './support';

/**
 * docs/contract.md §9.3 (no lost invalidation): an invalidation is applied again after a crash at any point
 * of it (its stream entry stays pending and is redelivered). A consumer killed after the dependency sets
 * were resolved, before the views they named were dropped, must leave those views to the redelivery.
 */
describe('an invalidation interrupted between resolving dependencies and dropping views', () => {
  const suite = useSeededBff({ instances: [CDC_OFF], settle: false });
  let redis: Redis;
  beforeAll(() => (redis = rawRedis()));
  afterAll(() => redis.disconnect());

  it('is completed by applying it again: the listing goes', async () => {
    const app = suite.bff;
    const { product, category } = await createCategoryWithProduct(app);
    const listing = `/catalog/categories/${category.slug}/products`;
    await get200(app, listing);
    expect(xcache(await get200(app, listing))).toMatch(/^HIT/);
    const names = new RedisNames(suite.ctx.redisPrefix);
    const listingKey = `catalog:listing:${category.slug}`;
    expect(await redis.exists(names.entry(listingKey))).toBe(1);

    // The first delivery: fence and resolve the product's dependency set, then the process dies.
    const store = app.get(RedisCacheStore);
    const dependency = `catalog:deps:product:${product.id}`;
    await store.fenceDependencies('catalog', [dependency]);
    expect((await store.resolve([dependency])).views).toEqual([listingKey]);

    // The redelivery applies the whole invalidation, and leaves no resolved record behind.
    await store.invalidate([], [dependency], 'redelivery');
    expect(await redis.exists(names.entry(listingKey))).toBe(0);
    expect(await redis.exists(`${names.bookkeepingPrefix}resolved:{${names.entry(dependency)}}`)).toBe(0);
  });

  it('of several dependency sets resolved together, is completed by applying the batch again: every view goes', async () => {
    const app = suite.bff;
    const first = await createCategoryWithProduct(app);
    const second = await createCategoryWithProduct(app);
    const listings = [first, second].map(({ category }) => `/catalog/categories/${category.slug}/products`);
    for (const listing of listings) await get200(app, listing);
    const names = new RedisNames(suite.ctx.redisPrefix);
    const listingKeys = [first, second].map(({ category }) => `catalog:listing:${category.slug}`);
    for (const key of listingKeys) expect(await redis.exists(names.entry(key))).toBe(1);

    // One batch's resolve of both products' sets, then the process dies: the sets are gone, both listings are
    // in the one record the call wrote.
    const store = app.get(RedisCacheStore);
    const dependencies = [first, second].map(({ product }) => `catalog:deps:product:${product.id}`);
    await store.fenceDependencies('catalog', dependencies);
    const { views, recorded } = await store.resolve(dependencies);
    expect(views.sort()).toEqual([...listingKeys].sort());
    expect(recorded).toEqual([{ set: names.entry(dependencies[0]), size: 2 }]);
    for (const d of dependencies) expect(await redis.exists(names.entry(d))).toBe(0);

    // The redelivered batch drops both listings and leaves no record.
    await store.invalidate([], dependencies, 'redelivery');
    for (const key of listingKeys) expect(await redis.exists(names.entry(key))).toBe(0);
    expect(await redis.keys(`${names.bookkeepingPrefix}resolved:*`)).toEqual([]);
  });

  it('is not undone by the FORGET of another invalidation that resolved the same set earlier', async () => {
    const app = suite.bff;
    const first = await createCategoryWithProduct(app);
    const listing = `/catalog/categories/${first.category.slug}/products`;
    const names = new RedisNames(suite.ctx.redisPrefix);
    const store = app.get(RedisCacheStore);
    const dependency = `catalog:deps:product:${first.product.id}`;
    const set = names.entry(dependency);
    const viewKey = `catalog:listing:${first.category.slug}`;
    const other = `catalog:listing:registered-later-${Date.now()}`;

    // Invalidation X resolves the set (the listing goes into X's record) …
    await get200(app, listing);
    await store.fenceDependencies('catalog', [dependency]);
    const x = await store.resolve([dependency]);
    expect(x.views).toEqual([viewKey]);
    // … a view registers in the set meanwhile, and invalidation Y resolves it too: Y's members join the record.
    await redis.set(names.entry(other), '{}');
    await redis.sadd(set, other);
    const y = await store.resolve([dependency]);
    expect(y.views.sort()).toEqual([other, viewKey].sort());

    // X drops its views and forgets; then Y's process dies before its drop.
    await store.drop(x.views, 'x');
    await store.forget(x.recorded);

    // Y's redelivery must still find the view only Y resolved.
    await store.invalidate([], [dependency], 'redelivery of y');
    expect(await redis.exists(names.entry(other))).toBe(0);
    expect(await redis.exists(`${names.bookkeepingPrefix}resolved:{${set}}`)).toBe(0);
  });
});
