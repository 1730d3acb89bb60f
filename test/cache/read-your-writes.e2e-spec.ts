import type { Redis } from 'ioredis';
import { InvalidationBus, RedisNames } from '@app/cache';
import { CDC_OFF } from '../harness/cdc';
import { createCategoryWithProduct, createOrder } from '../harness/fixtures';
import { useSeededBff } from '../harness/seeded-bff';
import { call, expectStatus, get200, json, l1Of, rawRedis, xcache } from './support';

/**
 * docs/contract.md §6.5: a write through the API drops the views it changes before it answers, with its
 * transaction's own captured events. Neither instance runs the relay or the subscriber here, so nothing
 * else can drop them: the plain-SQL case shows that.
 */
describe('read-your-writes: API writes invalidate before they answer', () => {
  const suite = useSeededBff({ instances: [CDC_OFF, CDC_OFF], settle: false });
  let redis: Redis;
  let names: RedisNames;
  beforeAll(() => {
    redis = rawRedis();
    names = new RedisNames(suite.ctx.redisPrefix);
  });
  afterAll(() => redis.disconnect());

  const inL2 = async (key: string) => (await redis.exists(names.entry(key))) === 1;

  /** Reads `url` on every instance until each serves it from L1. */
  async function cachedEverywhere(url: string): Promise<void> {
    for (const app of suite.apps) {
      await get200(app, url);
      expect([url, xcache(await get200(app, url))]).toEqual([url, 'HIT-L1']);
    }
  }

  it('a PATCH answers once the product, its listing and its availability are gone from L2 and its own L1', async () => {
    const [one, two] = suite.apps;
    const { product, category } = await createCategoryWithProduct(one, { name: 'Before' });
    const productUrl = `/catalog/products/${product.id}`;
    const listingUrl = `/catalog/categories/${category.slug}/products`;
    const availabilityUrl = `/catalog/products/${product.id}/availability`;
    for (const url of [productUrl, listingUrl, availabilityUrl]) await cachedEverywhere(url);
    const keys = [
      `catalog:product:${product.id}`,
      `catalog:listing:${category.slug}`,
      `catalog:availability:${product.id}`,
    ];
    for (const key of keys) expect([key, await inL2(key)]).toEqual([key, true]);

    expectStatus(await call(one, 'PATCH', productUrl, { name: 'After' }), 200);
    // Checked right after the answer, without waiting for anything.
    for (const key of keys) {
      expect([key, await inL2(key)]).toEqual([key, false]);
      expect([key, l1Of(one).get(key)]).toEqual([key, undefined]);
    }
    expect(json(await get200(one, productUrl)).name).toBe('After');
    expect(json(await get200(one, listingUrl)).products[0].name).toBe('After');
    // Applied on the other instance too by the answer. In one process both instances share an event loop, so
    // this held before the barrier as well; that the write waited for the other's acknowledgement is checked
    // through barrierStats below.
    for (const key of keys) expect([key, l1Of(two).get(key)]).toEqual([key, undefined]);
    expect(json(await get200(two, productUrl)).name).toBe('After');
    expect(json(await get200(two, listingUrl)).products[0].name).toBe('After');
  });

  it('stock, category and delete writes too', async () => {
    const [one] = suite.apps;
    const { product, category } = await createCategoryWithProduct(one);
    const availabilityUrl = `/catalog/products/${product.id}/availability`;
    const listingUrl = `/catalog/categories/${category.slug}/products`;
    await cachedEverywhere(availabilityUrl);
    expectStatus(await call(one, 'PUT', `/catalog/products/${product.id}/stock`, { quantity: 0 }), 200);
    expect(await inL2(`catalog:availability:${product.id}`)).toBe(false);
    expect(json(await get200(one, availabilityUrl)).inStock).toBe(false);

    await cachedEverywhere(listingUrl);
    expectStatus(await call(one, 'PATCH', `/catalog/categories/${category.id}`, { name: 'Renamed' }), 200);
    expect(await inL2(`catalog:listing:${category.slug}`)).toBe(false);

    await cachedEverywhere(`/catalog/products/${product.id}`);
    expectStatus(await call(one, 'DELETE', `/catalog/products/${product.id}`), 204);
    expect(await inL2(`catalog:product:${product.id}`)).toBe(false);
    expectStatus(await call(one, 'GET', `/catalog/products/${product.id}`), 404);
  });

  it("an order write drops the account's order list and the reserved product's availability (two domains)", async () => {
    const [one] = suite.apps;
    const { product } = await createCategoryWithProduct(one);
    const accountId = `ryw-${Date.now()}`;
    const first = await createOrder(one, [{ productId: product.id, quantity: 1 }], { accountId });
    const listUrl = `/accounts/${accountId}/orders`;
    const availabilityUrl = `/catalog/products/${product.id}/availability`;
    const orderUrl = `/orders/${first.id}`;
    for (const url of [listUrl, availabilityUrl, orderUrl]) await cachedEverywhere(url);

    await createOrder(one, [{ productId: product.id, quantity: 2 }], { accountId });
    expect(await inL2(`orders:account:${accountId}`)).toBe(false);
    expect(await inL2(`catalog:availability:${product.id}`)).toBe(false);
    expect(json(await get200(one, listUrl))).toHaveLength(2);
    expect(json(await get200(one, availabilityUrl)).quantity).toBe(7);

    expectStatus(await call(one, 'PATCH', orderUrl, { status: 'cancelled' }), 200);
    expect(await inL2(`orders:detail:${first.id}`)).toBe(false);
    expect(json(await get200(one, orderUrl)).status).toBe('cancelled');
  });

  it('waits for cachegate instances only: a foreign subscriber of the invalidation channel is not waited for', async () => {
    const [one] = suite.apps;
    const watcher = rawRedis();
    try {
      await watcher.subscribe(names.invalidationChannel);
      const { product } = await createCategoryWithProduct(one);
      const stats = one.get(InvalidationBus).barrierStats;
      const before = { ...stats };
      expectStatus(await call(one, 'PATCH', `/catalog/products/${product.id}`, { name: 'Watched' }), 200);
      // Acknowledged by the other instance, not held for the watcher, which never answers.
      expect(stats).toEqual({ acknowledged: before.acknowledged + 1, timedOut: before.timedOut });
    } finally {
      watcher.disconnect();
    }
  });

  it('an instance that never acknowledges holds a write for L1_MAX_STALENESS_MS at most, then it answers', async () => {
    const [one] = suite.apps;
    const { product } = await createCategoryWithProduct(one);
    const mute = rawRedis();
    try {
      await mute.subscribe(names.barrierChannel); // subscribed, counted by PUBLISH, never answers
      const stats = one.get(InvalidationBus).barrierStats;
      const before = { ...stats };
      expectStatus(await call(one, 'PATCH', `/catalog/products/${product.id}`, { name: 'Unanswered' }), 200);
      expect(stats).toEqual({ acknowledged: before.acknowledged, timedOut: before.timedOut + 1 });
      expect(await inL2(`catalog:product:${product.id}`)).toBe(false);
    } finally {
      mute.disconnect();
    }
  });

  it('a write made outside the API is left to CDC (off here): the old view stays cached', async () => {
    const [one] = suite.apps;
    const { product } = await createCategoryWithProduct(one, { name: 'Before' });
    const url = `/catalog/products/${product.id}`;
    await cachedEverywhere(url);
    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'By SQL' WHERE id = $1`, [product.id]);
    expect(await inL2(`catalog:product:${product.id}`)).toBe(true);
    expect(json(await get200(one, url)).name).toBe('Before');
  });

  it('a replayed Idempotency-Key write changes nothing and drops nothing', async () => {
    const [one] = suite.apps;
    const { category } = await createCategoryWithProduct(one);
    const body = { sku: `RYW-${Date.now()}`, name: 'Once', priceCents: 500, currency: 'EUR', categoryId: category.id };
    const headers = { 'idempotency-key': `ryw-${Date.now()}` };
    const first = await call(one, 'POST', '/catalog/products', body, headers);
    expectStatus(first, 201);
    const listingUrl = `/catalog/categories/${category.slug}/products`;
    await cachedEverywhere(listingUrl);
    expectStatus(await call(one, 'POST', '/catalog/products', body, headers), 201);
    expect(await inL2(`catalog:listing:${category.slug}`)).toBe(true);
  });
});
