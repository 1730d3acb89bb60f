import type { Redis } from 'ioredis';
import { CACHE_SUBSCRIBER } from '@app/cache';
import { CatalogCacheService } from '../../apps/bff/src/catalog/catalog-cache.service';
import { createCategoryWithProduct, createOrder } from '../harness/fixtures';
import { eventually } from '../../tools/eventually';
import { useSeededBff } from '../harness/seeded-bff';
import {
  App,
  call,
  expectStatus,
  get200,
  json,
  l1Of,
  rawRedis,
  settle,
  sqlUnseenByCdc,
  waitForCdc,
  xcache,
} from './support';

/** docs/contract.md §5.6: invalidations reach every instance's L1 over a Redis channel; losing the channel clears L1. */
describe('L1 across instances', () => {
  const suite = useSeededBff({ instances: 2 });

  /** Reads `url` on both instances until both serve it from L1. */
  async function inBothL1(url: string): Promise<string> {
    const [one, two] = suite.apps;
    await Promise.all([settle(one), settle(two)]);
    const body = (await get200(one, url)).body;
    for (const app of [one, two]) {
      await get200(app, url);
      const hit = await get200(app, url);
      expect([url, xcache(hit)]).toEqual([url, 'HIT-L1']);
      expect(hit.body).toBe(body);
    }
    return body;
  }

  /**
   * Waits until `app` has heard every invalidation so far (settle), then checks that `key` has left its L1. Not a
   * wait for the key to leave: L1 is also cleared as a whole when the channel looks lost (a late PING or echo on a
   * loaded machine), and the read after it would then find the old entry in L2, before the invalidation.
   */
  const dropped = async (app: App, key: string) => {
    await settle(app);
    expect([key, l1Of(app).get(key)]).toEqual([key, undefined]);
  };

  describe('a write through one instance reaches the L1 of the other', () => {
    it('product and listing (dependency) views', async () => {
      const [one, two] = suite.apps;
      const { product, category } = await createCategoryWithProduct(one, { name: 'Old' });
      const productUrl = `/catalog/products/${product.id}`;
      const listingUrl = `/catalog/categories/${category.slug}/products`;
      const oldProduct = await inBothL1(productUrl);
      const oldListing = await inBothL1(listingUrl);

      expectStatus(await call(one, 'PATCH', productUrl, { name: 'New' }), 200);
      await dropped(two, `catalog:product:${product.id}`);
      await dropped(two, `catalog:listing:${category.slug}`);

      const p = await get200(two, productUrl);
      expect(xcache(p)).not.toBe('HIT-L1');
      expect(p.body).not.toBe(oldProduct);
      expect(json(p).name).toBe('New');
      const l = await get200(two, listingUrl);
      expect(xcache(l)).not.toBe('HIT-L1');
      expect(l.body).not.toBe(oldListing);
      expect(json(l).products[0].name).toBe('New');
    });

    it('a change made with plain SQL reaches both L1s through CDC, nobody announcing it', async () => {
      const [one, two] = suite.apps;
      const { product } = await createCategoryWithProduct(one, { priceCents: 100 });
      const url = `/catalog/products/${product.id}`;
      await inBothL1(url);
      await suite.ctx.sql.query('UPDATE catalog.products SET price_cents = 321 WHERE id = $1', [product.id]);
      await dropped(one, `catalog:product:${product.id}`);
      await dropped(two, `catalog:product:${product.id}`);
      for (const app of [one, two]) expect(json(await get200(app, url)).priceCents).toBe(321);
    });

    it("an invalidation applied on one instance (the CDC handler's call) reaches the L1 of the other", async () => {
      const [one, two] = suite.apps;
      const { product, category } = await createCategoryWithProduct(one, { priceCents: 100 });
      const url = `/catalog/products/${product.id}`;
      await inBothL1(url);
      // Capture off: no CDC event, so the only announcement is the one made here, on `one`.
      await sqlUnseenByCdc(suite.ctx.sql, [
        ['UPDATE catalog.products SET price_cents = 321 WHERE id = $1', [product.id]],
      ]);
      await one.get(CatalogCacheService).apply({
        aggregate: 'product',
        id: product.id,
        kind: 'updated',
        categoryIds: [category.id],
        membershipChanged: false,
      });
      await dropped(two, `catalog:product:${product.id}`);
      expect(json(await get200(two, url)).priceCents).toBe(321);
    });

    it('order detail and account orders', async () => {
      const [one, two] = suite.apps;
      const { product } = await createCategoryWithProduct(one, { stock: 20 });
      const order = await createOrder(one, [{ productId: product.id, quantity: 1 }]);
      const detailUrl = `/orders/${order.id}`;
      const summariesUrl = `/accounts/${order.accountId}/orders`;
      await inBothL1(detailUrl);
      await inBothL1(summariesUrl);

      expectStatus(await call(one, 'PATCH', detailUrl, { status: 'paid' }), 200);
      await dropped(two, `orders:detail:${order.id}`);
      await dropped(two, `orders:account:${order.accountId}`);

      const detail = await get200(two, detailUrl);
      expect(xcache(detail)).not.toBe('HIT-L1');
      expect(json(detail).status).toBe('paid');
      expect(json(await get200(two, summariesUrl))[0].status).toBe('paid');
    });
  });

  describe('losing the invalidation channel', () => {
    /**
     * Kills `app`'s subscriber connection on the Redis server it is connected to (on a cluster, the one node it
     * subscribes on); resolves once the app saw it close.
     */
    async function killSubscriber(app: App): Promise<void> {
      const subscriber = app.get<symbol, Redis>(CACHE_SUBSCRIBER);
      const { localAddress, localPort } = subscriber.stream;
      const addr = `${localAddress}:${localPort}`;
      const redis = rawRedis(`redis://${subscriber.options.host}:${subscriber.options.port}`);
      try {
        // Our connection, by name and by its own address (every instance's bus has the same name).
        const line = (await redis.client('LIST')) as string;
        const mine = line
          .split('\n')
          .find((l) => l.includes(` addr=${addr} `) && l.includes(' name=cachegate-cache-bus '));
        expect(mine).toBeDefined();
        const closed = new Promise<void>((resolve) => subscriber.once('close', () => resolve()));
        expect(await redis.client('KILL', 'ADDR', addr)).toBe(1);
        await closed;
      } finally {
        redis.disconnect();
      }
    }

    it('clears L1 and keeps it off until the channel is back, then uses it again', async () => {
      const [one, two] = suite.apps;
      const { product } = await createCategoryWithProduct(one);
      const url = `/catalog/products/${product.id}`;
      await inBothL1(url);
      expect(l1Of(one).size).toBeGreaterThan(0);

      await killSubscriber(one);
      expect(l1Of(one).active).toBe(false);
      expect(l1Of(one).size).toBe(0);
      const meanwhile = await get200(one, url);
      expect(xcache(meanwhile)).toBe('HIT-L2');

      await eventually(() => l1Of(one).active, {
        timeoutMs: 5000,
        message: 'the subscriber to reconnect and resubscribe',
      });
      expect(xcache(await get200(one, url))).toBe('HIT-L2');
      expect(xcache(await get200(one, url))).toBe('HIT-L1');
      const health = json(await call(one, 'GET', '/health'));
      expect(health.details.redis).toMatchObject({ status: 'up', l1: 'on' });
      // And the channel works again: a write elsewhere reaches this L1.
      expectStatus(await call(two, 'PATCH', url, { name: 'After reconnect' }), 200);
      await dropped(one, `catalog:product:${product.id}`);
      expect(json(await get200(one, url)).name).toBe('After reconnect');
    });

    it('an invalidation published while the channel was down is not missed: nothing stale survives in L1', async () => {
      const [one, two] = suite.apps;
      const { product } = await createCategoryWithProduct(one, { name: 'Before partition' });
      const url = `/catalog/products/${product.id}`;
      await inBothL1(url);

      // `two` stays disconnected until the test reconnects it (ioredis reads retryStrategy at each close).
      const subscriber = two.get<symbol, Redis>(CACHE_SUBSCRIBER);
      const retryStrategy = subscriber.options.retryStrategy;
      subscriber.options.retryStrategy = () => null;
      try {
        await killSubscriber(two);
        // Applied and published (through CDC) while `two` is not subscribed: `two` never receives this message.
        expectStatus(await call(one, 'PATCH', url, { name: 'During partition' }), 200);
        await waitForCdc(one);
        expect(l1Of(two).active).toBe(false);
      } finally {
        subscriber.options.retryStrategy = retryStrategy;
      }
      await subscriber.connect();
      await eventually(() => l1Of(two).active, { timeoutMs: 5000, message: 'the subscriber to reconnect' });

      const res = await get200(two, url);
      expect(xcache(res)).not.toBe('HIT-L1');
      expect(json(res).name).toBe('During partition');
    });
  });
});
