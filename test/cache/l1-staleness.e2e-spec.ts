import { createCategoryWithProduct, ProductBody } from '../harness/fixtures';
import { RedisServer } from '../../tools/redis-server';
import { useTestContext } from '../harness/test-context';
import { App, call, get200, settle, xcache } from './support';

const MAX_STALENESS_MS = 300;

/**
 * docs/contract.md §5.6: L1 answers only while its invalidation channel was
 * confirmed within L1_MAX_STALENESS_MS, also when the connection hangs (a
 * stopped Redis: the socket stays open, nothing is closed or refused). Every
 * HIT-L1 answered later than that after the hang began would be a view that
 * may miss an invalidation: the test asserts there is none.
 */
describe('L1 with a hung invalidation channel', () => {
  const ctx = useTestContext();
  let redis: RedisServer;
  let app: App;
  let product: ProductBody;

  beforeAll(async () => {
    redis = await RedisServer.start();
    app = await ctx().startBff({ REDIS_URL: redis.url, L1_MAX_STALENESS_MS: String(MAX_STALENESS_MS) });
    ({ product } = await createCategoryWithProduct(app));
    await settle(app);
  });

  afterAll(async () => {
    redis?.resume();
    await redis?.close();
  });

  it(`stops answering from L1 within L1_MAX_STALENESS_MS (${MAX_STALENESS_MS} ms) of the hang`, async () => {
    const url = `/catalog/products/${product.id}`;
    await get200(app, url);
    expect(xcache(await get200(app, url))).toBe('HIT-L1');
    const hungAt = Date.now();
    redis.pause();
    try {
      // Sample for 1.5 s: more than the old heartbeat's 1 s PING timeout, which the bound must beat.
      const lateL1Hits: number[] = [];
      while (Date.now() - hungAt < 1500) {
        const started = Date.now();
        const res = await call(app, 'GET', url);
        expect(res.statusCode).toBe(200);
        // A few ms of slack: a PING already on its way when the server stopped may still be answered.
        if (xcache(res) === 'HIT-L1' && started - hungAt > MAX_STALENESS_MS + 50) lateL1Hits.push(started - hungAt);
      }
      expect(lateL1Hits).toEqual([]);
    } finally {
      redis.resume();
    }
  });
});
