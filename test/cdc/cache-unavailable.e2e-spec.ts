import { RedisCacheStore } from '@app/cache';
import { CDC_OFF, CDC_ON, waitForCdc } from '../harness/cdc';
import { call, json } from '../harness/http';
import { RedisServer } from '../../tools/redis-server';
import { useSeededBff } from '../harness/seeded-bff';
import { appReader, expectViewsEqual, seedCatalog, warm } from './support';

/**
 * docs/contract.md §9.2–9.3 with §5.8: when the cache cannot be written for a while (a hung
 * Redis opened the cache's circuit breaker), an invalidation that fails for that
 * reason is retried until it applies. It is not a poison entry: dead-lettering
 * it after CDC_MAX_DELIVERIES quick attempts would leave the old representation
 * cached for good.
 */
describe('CDC while the cache is unavailable', () => {
  let redis: RedisServer;
  const suite = useSeededBff({
    before: async () => {
      redis = await RedisServer.start();
    },
    instances: [CDC_ON],
    env: () => ({ REDIS_URL: redis.url }),
    truth: true,
    seed: ({ ctx }) => seedCatalog(ctx.sql, 1, 8),
    after: async () => {
      redis?.resume();
      await redis?.close();
    },
  });

  it('an invalidation refused by the open circuit breaker is retried, not dead-lettered', async () => {
    const { bff: app, truth, seeded } = suite;
    const target = `/catalog/products/${seeded.products[0].id}`;
    await warm(appReader(app), [target]);

    // Redis hangs while requests come in: their cache calls time out and open the breaker.
    redis.pause();
    try {
      await Promise.all(seeded.products.slice(1).map((p) => call(app, 'GET', `/catalog/products/${p.id}`)));
      expect(app.get(RedisCacheStore).breaker.state).toBe('open');
      await suite.ctx.sql.query(
        `UPDATE catalog.products SET name = 'Changed while the cache was unavailable' WHERE id = $1`,
        [seeded.products[0].id],
      );
    } finally {
      redis.resume();
    }

    // The outbox row exists (committed before the resume): lag 0 means it was published and handled.
    await waitForCdc(app, 30_000);
    const report = json(await call(app, 'GET', '/health/cdc'));
    expect(report.totals.deadLettered).toBe(0);
    expect(report.streams['cdc.catalog.v1'].deadLetters).toBe(0);
    const after = await expectViewsEqual(appReader(app), appReader(truth), [target]);
    expect(after[target].body).toMatchObject({ name: 'Changed while the cache was unavailable' });
  }, 60_000);
});

describe('CDC on an instance whose cache is switched off (CACHE_ENABLED=false)', () => {
  const suite = useSeededBff({
    // The first is the only relay and subscriber; the second caches.
    instances: [{ ...CDC_ON, CACHE_ENABLED: 'false' }, CDC_OFF],
    seed: ({ ctx }) => seedCatalog(ctx.sql, 1, 2),
  });

  it('its subscriber still drops the keys in Redis for the instances that cache', async () => {
    const [switchedOff, reader] = suite.apps;
    const { seeded } = suite;
    const urls = [
      `/catalog/products/${seeded.products[0].id}`,
      `/catalog/categories/${seeded.categories[0].slug}/products`,
    ];
    await warm(appReader(reader), urls);
    await suite.ctx.sql.query(
      `UPDATE catalog.products SET name = 'Seen through a cacheless subscriber' WHERE id = $1`,
      [seeded.products[0].id],
    );
    await waitForCdc(switchedOff);
    const after = await expectViewsEqual(appReader(reader), appReader(switchedOff), urls);
    expect(after[urls[0]]).toMatchObject({ cache: 'MISS', body: { name: 'Seen through a cacheless subscriber' } });
    expect(json(await call(switchedOff, 'GET', '/health/cdc')).totals.deadLettered).toBe(0);
  });
});
