import { createCategoryWithProduct, createOrder, ISO_TIMESTAMP_PATTERN } from '../harness/fixtures';
import { eventually } from '../../tools/eventually';
import { useSeededBff } from '../harness/seeded-bff';
import { App, call, expectStatus, get, get200, json, l1Of, rawRedis, settle, xcache } from './support';

/** docs/contract.md §4: /health, /health/<domain>/cache, /metrics and the admin routes (without ADMIN_TOKEN: admin-disabled.e2e-spec.ts). */

const CONTRACT_COUNTERS = ['hits', 'misses', 'l1Hits', 'l2Hits', 'coalesced', 'staleFillsDiscarded'];

function expectDomainStats(body: any, buckets: string[], ttl: Record<string, number | null>): void {
  expect(Object.keys(body).sort()).toEqual(['metrics', 'timestamp', 'ttl']);
  expect(body.timestamp).toMatch(ISO_TIMESTAMP_PATTERN);
  expect(Math.abs(Date.parse(body.timestamp) - Date.now())).toBeLessThan(60_000);
  expect(Object.keys(body.metrics).sort()).toEqual([...buckets, 'invalidations'].sort());
  expect(Number.isInteger(body.metrics.invalidations)).toBe(true);
  for (const bucket of buckets) {
    const counters = body.metrics[bucket];
    for (const field of CONTRACT_COUNTERS)
      expect([bucket, field, Number.isInteger(counters[field]) && counters[field] >= 0]).toEqual([bucket, field, true]);
    expect(counters.hits).toBe(counters.l1Hits + counters.l2Hits);
  }
  expect(body.ttl).toEqual(ttl);
}

describe('health and metrics', () => {
  const suite = useSeededBff({ instances: [{}, { L1_ENABLED: 'false' }] });

  it('/health: database and redis up', async () => {
    const res = await get(suite.bff, '/health');
    expect(res.statusCode).toBe(200);
    const body = json(res);
    expect(body.status).toBe('ok');
    expect(body.info.database.status).toBe('up');
    expect(body.info.redis.status).toBe('up');
    expect(body.error).toEqual({});
  });

  it('/health/catalog/cache and /health/orders/cache have the docs/contract.md §4 shape and count each request once', async () => {
    const [app, noL1] = suite.apps;
    const { product } = await createCategoryWithProduct(app);
    const url = `/catalog/products/${product.id}`;
    await settle(app);
    const before = json(await get200(app, '/health/catalog/cache')).metrics.product;
    const beforeNoL1 = json(await get200(noL1, '/health/catalog/cache')).metrics.product;
    // app: MISS, HIT-L1, HIT-L1; noL1: HIT-L2, HIT-L2.
    expect([xcache(await get200(app, url)), xcache(await get200(app, url)), xcache(await get200(app, url))]).toEqual([
      'MISS',
      'HIT-L1',
      'HIT-L1',
    ]);
    expect([xcache(await get200(noL1, url)), xcache(await get200(noL1, url))]).toEqual(['HIT-L2', 'HIT-L2']);

    const catalog = json(await get200(app, '/health/catalog/cache'));
    expectDomainStats(catalog, ['availability', 'categories', 'listing', 'product'], {
      productSeconds: null,
      listingSeconds: null,
      categoriesSeconds: null,
      availabilitySeconds: 60,
    });
    const moved = (now: any, then: any) => Object.fromEntries(CONTRACT_COUNTERS.map((f) => [f, now[f] - then[f]]));
    expect(moved(catalog.metrics.product, before)).toEqual({
      hits: 2,
      misses: 1,
      l1Hits: 2,
      l2Hits: 0,
      coalesced: 0,
      staleFillsDiscarded: 0,
    });
    const other = json(await get200(noL1, '/health/catalog/cache')).metrics.product;
    expect(moved(other, beforeNoL1)).toEqual({
      hits: 2,
      misses: 0,
      l1Hits: 0,
      l2Hits: 2,
      coalesced: 0,
      staleFillsDiscarded: 0,
    });

    const orders = json(await get200(app, '/health/orders/cache'));
    expectDomainStats(orders, ['detail', 'summaries'], { detailSeconds: null, summariesSeconds: null });
  });

  it('counts the keys each instance sees invalidated', async () => {
    const [app, noL1] = suite.apps;
    const { product } = await createCategoryWithProduct(app);
    await settle(app);
    await settle(noL1);
    const invalidations = async (a: App) =>
      json(await get200(a, '/health/catalog/cache')).metrics.invalidations as number;
    const before = [await invalidations(app), await invalidations(noL1)];
    // A price change drops exactly one key: the product (its availability and listings would go through the
    // product's dependency set, docs/contract.md §5.5, but none is cached). Made in SQL, only CDC drops it: once.
    await suite.ctx.sql.query('UPDATE catalog.products SET price_cents = 98 WHERE id = $1', [product.id]);
    await settle(app);
    await settle(noL1);
    expect([(await invalidations(app)) - before[0], (await invalidations(noL1)) - before[1]]).toEqual([1, 1]);
    // Through the API, the write drops it before it answers and CDC drops it again (§6.5): twice.
    expectStatus(await call(app, 'PATCH', `/catalog/products/${product.id}`, { priceCents: 99 }), 200);
    await settle(app);
    await settle(noL1);
    expect([(await invalidations(app)) - before[0], (await invalidations(noL1)) - before[1]]).toEqual([3, 3]);
  });

  it('/health/<unknown>/cache → 404', async () => {
    const res = await get(suite.bff, '/health/unknown/cache');
    expect(res.statusCode).toBe(404);
    expect(json(res).statusCode).toBe(404);
  });

  it('/metrics is Prometheus text with the cache counters and the HTTP duration histogram', async () => {
    const app = suite.bff;
    const { product } = await createCategoryWithProduct(app);
    await get200(app, `/catalog/products/${product.id}`);
    const res = await get(app, '/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(text).toContain('# TYPE cachegate_cache_requests_total counter');
    expect(text).toMatch(
      /^cachegate_cache_requests_total\{domain="catalog",bucket="product",result="miss"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(/^cachegate_cache_requests_total\{domain="orders",bucket="detail",result="l1_hit"\} \d+$/m);
    expect(text).toContain('# TYPE cachegate_http_request_duration_seconds histogram');
    expect(text).toMatch(
      /^cachegate_http_request_duration_seconds_count\{method="GET",route="\/catalog\/products\/:id",status="200"\} [1-9]\d*$/m,
    );
  });
});

describe('admin routes', () => {
  const TOKEN = 'test-admin-token-0123456789';
  const suite = useSeededBff({ instances: 2, env: { ADMIN_TOKEN: TOKEN } });
  const redis = rawRedis();

  afterAll(() => redis.disconnect());

  const admin = (app: App, method: 'GET' | 'DELETE', url: string, token: string | undefined = TOKEN) =>
    call(app, method, url, undefined, token === undefined ? {} : { authorization: token });

  it('refuse a missing or wrong bearer token (401)', async () => {
    const a = suite.bff;
    for (const auth of [
      undefined,
      'Bearer wrong-token-wrong-token',
      `Basic ${TOKEN}`,
      `Bearer ${TOKEN}x`,
      TOKEN,
      'Bearer ',
    ]) {
      const res = await admin(a, 'GET', '/admin/cache/usage?pattern=orders:*', auth);
      expect([auth, res.statusCode]).toEqual([auth, 401]);
      expect((await admin(a, 'DELETE', '/admin/cache?pattern=orders:*', auth)).statusCode).toBe(401);
    }
  });

  it('refuse patterns outside one domain (400)', async () => {
    const a = suite.bff;
    for (const pattern of ['*', 'a%20b', 'cache:*', 'cache:lease:*', '', '*:product:*', 'orders', 'orders:[a]*']) {
      const usage = await admin(a, 'GET', `/admin/cache/usage?pattern=${pattern}`, `Bearer ${TOKEN}`);
      expect([pattern, usage.statusCode]).toEqual([pattern, 400]);
      const flush = await admin(a, 'DELETE', `/admin/cache?pattern=${pattern}`, `Bearer ${TOKEN}`);
      expect([pattern, flush.statusCode]).toEqual([pattern, 400]);
    }
    expect((await admin(a, 'GET', '/admin/cache/usage', `Bearer ${TOKEN}`)).statusCode).toBe(400);
  });

  it('usage reports keys and bytes; a flush empties L2 and the L1 of every instance', async () => {
    const [a, b] = suite.apps;
    const { product } = await createCategoryWithProduct(a, { stock: 10 });
    const order = await createOrder(a, [{ productId: product.id, quantity: 1 }]);
    const routes = [`/orders/${order.id}`, `/accounts/${order.accountId}/orders`];
    const productUrl = `/catalog/products/${product.id}`;
    await settle(a);
    await settle(b);
    for (const app of [a, b]) {
      for (const url of [...routes, productUrl]) {
        await get200(app, url);
        expect([url, xcache(await get200(app, url))]).toEqual([url, 'HIT-L1']);
      }
    }

    const usage = await admin(a, 'GET', '/admin/cache/usage?pattern=orders:*', `Bearer ${TOKEN}`);
    expectStatus(usage, 200);
    expect(json(usage)).toEqual({ pattern: 'orders:*', keys: 2, bytes: expect.any(Number) });
    expect(json(usage).bytes).toBeGreaterThan(0);
    const detailOnly = json(await admin(a, 'GET', '/admin/cache/usage?pattern=orders:detail:*', `Bearer ${TOKEN}`));
    expect(detailOnly.keys).toBe(1);

    const flushed = await admin(a, 'DELETE', '/admin/cache?pattern=orders:*', `Bearer ${TOKEN}`);
    expectStatus(flushed, 200);
    expect(json(flushed)).toEqual({ deleted: 2 });
    expect(await redis.exists(`${suite.ctx.redisPrefix}orders:detail:${order.id}`)).toBe(0);
    expect(json(await admin(a, 'GET', '/admin/cache/usage?pattern=orders:*', `Bearer ${TOKEN}`)).keys).toBe(0);

    // b hears of the flush on the channel.
    await eventually(() => l1Of(b).get(`orders:detail:${order.id}`) === undefined, {
      timeoutMs: 2000,
      message: 'the flush to reach the other instance',
    });
    for (const url of routes) {
      const fromA = await get200(a, url);
      expect([url, xcache(fromA)]).toEqual([url, 'MISS']);
      const fromB = await get200(b, url);
      expect([url, xcache(fromB)]).not.toEqual([url, 'HIT-L1']);
      expect(fromB.body).toBe(fromA.body);
    }
    // Other domains are untouched.
    for (const app of [a, b]) expect(xcache(await get200(app, productUrl))).toBe('HIT-L1');
    expect(await redis.exists(`${suite.ctx.redisPrefix}catalog:product:${product.id}`)).toBe(1);
  });
});
