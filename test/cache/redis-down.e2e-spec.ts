import { eventually } from '../../tools/eventually';
import { createCategoryWithProduct, createOrder, productBody, tag } from '../harness/fixtures';
import { HttpMethod } from '../harness/http';
import { RedisServer } from '../../tools/redis-server';
import { useSeededBff } from '../harness/seeded-bff';
import { call, expectStatus, get200, json, l1Of, Response, settle, xcache } from './support';

/**
 * docs/contract.md §3 errors / §5.8: Redis unreachable is not an error. Reads go to the
 * source (BYPASS), writes succeed, /health says redis is down; when Redis is
 * back the cache is used again. Runs against a throwaway redis-server.
 */

/** Refused connections fail at once (tens of ms); the budget only leaves room for a loaded machine. */
const DOWN_BUDGET_MS = 2500;
/**
 * A hung server costs each cache call the command timeout (1 s): a cold read makes up to three (early-hit
 * lookup, read-through GET, lease) before the circuit breaker opens. 6 s bounds that with room for a loaded
 * machine; a hang would exceed it by far.
 */
const HUNG_BUDGET_MS = 6000;

describe('Redis unreachable', () => {
  let redis: RedisServer;
  const suite = useSeededBff({
    before: async () => {
      redis = await RedisServer.start();
    },
    env: () => ({ REDIS_URL: redis.url }),
    seed: async ({ bff }) => {
      const { product } = await createCategoryWithProduct(bff, { stock: 100 });
      const order = await createOrder(bff, [{ productId: product.id, quantity: 1 }]);
      return { product, orderId: order.id as string, accountId: order.accountId as string };
    },
    // Up to the invalidation channel: an echo of the seed must not land in the first test's first fill.
    settle: ({ bff }) => settle(bff),
    after: () => redis?.close(),
  });

  afterEach(async () => {
    // A failed test must not leave the next one without Redis.
    redis.resume();
    await redis.start();
  });

  /** Sends a request and checks it did not fail with a 5xx (but the health check's 503) nor take longer than `budgetMs`. */
  async function timed(method: HttpMethod, url: string, body: unknown, budgetMs: number): Promise<Response> {
    const started = Date.now();
    const res = await call(suite.bff, method, url, body);
    const elapsed = Date.now() - started;
    const failed = res.statusCode >= 500 && !(url === '/health' && res.statusCode === 503);
    expect([method, url, failed ? res.body : 'no 5xx', elapsed <= budgetMs ? 'in time' : `${elapsed} ms`]).toEqual([
      method,
      url,
      'no 5xx',
      'in time',
    ]);
    return res;
  }

  const health = () => call(suite.bff, 'GET', '/health');

  async function cachedAgain(url: string): Promise<void> {
    const app = suite.bff;
    await eventually(async () => (await health()).statusCode === 200, {
      timeoutMs: 10_000,
      message: '/health to answer 200 again',
    });
    await eventually(() => l1Of(app).active, { timeoutMs: 5000, message: 'L1 to be back on' });
    // The changes made while Redis was away are invalidated once the relay and the subscriber got through.
    await settle(app);
    // The breaker may still let only a probe through; wait until a read is cached again.
    await eventually(async () => xcache(await get200(app, url)) === 'HIT-L1', {
      timeoutMs: 10_000,
      message: `${url} to be served from L1 again`,
    });
  }

  it('down: reads bypass, writes succeed, /health is 503; back up: cached again', async () => {
    const app = suite.bff;
    const { product, orderId, accountId } = suite.seeded;
    const productUrl = `/catalog/products/${product.id}`;
    expect(xcache(await get200(app, productUrl))).toBe('MISS');
    expect(xcache(await get200(app, productUrl))).toBe('HIT-L1');
    expect((await health()).statusCode).toBe(200);

    await redis.stop();
    await eventually(() => !l1Of(app).active, { timeoutMs: 3000, message: 'the invalidation channel to drop' });
    expect(l1Of(app).size).toBe(0);

    // Reads: every cached route, including one that was cached, answers from the source.
    const reads = [
      productUrl,
      `${productUrl}/availability`,
      '/catalog/categories',
      `/orders/${orderId}`,
      `/accounts/${accountId}/orders`,
    ];
    for (let round = 0; round < 2; round++) {
      for (const url of reads) {
        const res = await timed('GET', url, undefined, DOWN_BUDGET_MS);
        expect([url, res.statusCode, xcache(res)]).toEqual([url, 200, 'BYPASS']);
      }
    }

    // Writes succeed, and the reads that follow show them.
    const patched = await timed('PATCH', productUrl, { name: 'Written while Redis was down' }, DOWN_BUDGET_MS);
    expectStatus(patched, 200);
    expect(json(await timed('GET', productUrl, undefined, DOWN_BUDGET_MS)).name).toBe('Written while Redis was down');
    expectStatus(await timed('PUT', `${productUrl}/stock`, { quantity: 77 }, DOWN_BUDGET_MS), 200);
    expect(json(await timed('GET', `${productUrl}/availability`, undefined, DOWN_BUDGET_MS)).quantity).toBe(77);
    expectStatus(await timed('POST', '/catalog/products', productBody(product.categoryId), DOWN_BUDGET_MS), 201);
    const order = await timed(
      'POST',
      '/orders',
      {
        accountId,
        currency: 'EUR',
        customerEmail: 'down@example.com',
        shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' },
        items: [{ productId: product.id, quantity: 1 }],
      },
      DOWN_BUDGET_MS,
    );
    expectStatus(order, 201);
    expectStatus(await timed('PATCH', `/orders/${orderId}`, { status: 'paid' }, DOWN_BUDGET_MS), 200);
    expect(json<any[]>(await timed('GET', `/accounts/${accountId}/orders`, undefined, DOWN_BUDGET_MS))).toHaveLength(2);

    // Health: redis down (503), database still up; the cache's own stats still answer.
    const down = await timed('GET', '/health', undefined, DOWN_BUDGET_MS);
    expect(down.statusCode).toBe(503);
    const body = json(down);
    expect(body.status).toBe('error');
    expect(body.error.redis.status).toBe('down');
    expect(body.details.database.status).toBe('up');
    const stats = json(await timed('GET', '/health/catalog/cache', undefined, DOWN_BUDGET_MS));
    expect(stats.metrics.product.bypassed).toBeGreaterThan(0);

    // Back on the same port (empty, as a replaced node would be).
    await redis.start();
    await cachedAgain(productUrl);
    expect(json(await get200(app, productUrl)).name).toBe('Written while Redis was down');
    const newOrder = `/orders/${json(order).id}`;
    expect(xcache(await get200(app, newOrder))).toBe('MISS');
    expect(xcache(await get200(app, newOrder))).toBe('HIT-L1');
    const up = json(await health());
    expect(up.info.redis).toMatchObject({ status: 'up', l1: 'on' });
  });

  it('hung (accepts, never answers): requests fall back within the command timeout, none hangs', async () => {
    const app = suite.bff;
    const { product, orderId } = suite.seeded;
    const productUrl = `/catalog/products/${product.id}`;
    await cachedAgain(productUrl);
    redis.pause();
    try {
      const cold = [
        `/catalog/products/${product.id}/availability`,
        `/accounts/acct-${tag()}/orders`,
        `/orders/${orderId}`,
      ];
      for (const url of cold) {
        const res = await timed('GET', url, undefined, HUNG_BUDGET_MS);
        expect([url, res.statusCode]).toEqual([url, 200]);
        expect(['BYPASS', 'MISS']).toContain(xcache(res));
      }
      expectStatus(await timed('PATCH', productUrl, { name: 'Written while Redis hung' }, HUNG_BUDGET_MS), 200);
      // The write does not touch the cache (docs/contract.md §1) and its CDC event cannot get through a hung Redis, so L1
      // must not go on serving the old copy: the channel's heartbeat gets no answer and turns L1 off.
      await eventually(() => !l1Of(app).active, {
        timeoutMs: HUNG_BUDGET_MS,
        message: 'L1 to turn off while the channel is unresponsive',
      });
      const during = await timed('GET', productUrl, undefined, HUNG_BUDGET_MS);
      expect([xcache(during), json(during).name]).toEqual(['BYPASS', 'Written while Redis hung']);
      const res = await timed('GET', '/health', undefined, HUNG_BUDGET_MS);
      expect(res.statusCode).toBe(503);
      expect(json(res).error.redis.status).toBe('down');
    } finally {
      redis.resume();
    }
    // Once Redis answers again the change is invalidated, and what is cached again is the write.
    await cachedAgain(productUrl);
    expect(json(await get200(app, productUrl)).name).toBe('Written while Redis hung');
  });
});
