import { CatalogCacheService } from '../../apps/bff/src/catalog/catalog-cache.service';
import { useSeededBff } from '../harness/seeded-bff';
import {
  call,
  changeWorldBehindTheCache,
  counters,
  expectStatus,
  get,
  get200,
  json,
  seedWorld,
  settle,
  World,
  xcache,
} from './support';

/**
 * docs/contract.md §3 "HTTP caching headers" on every cached GET route: HIT-L1 on a warm
 * instance, HIT-L2 with L1 off, BYPASS with the cache off; ETag and 304.
 */
describe('cached GET routes: X-Cache, ETag, If-None-Match', () => {
  // In the tests: [withL1, withoutL1, cacheOff].
  const suite = useSeededBff({ instances: [{}, { L1_ENABLED: 'false' }, { CACHE_ENABLED: 'false' }] });

  const bucketsOf = (world: World) => Object.entries(world.routes) as [keyof World['routes'], string][];

  it('answers MISS then HIT-L1 with the same bytes and ETag on every route, and keeps serving them while only the database changed', async () => {
    const [withL1, , cacheOff] = suite.apps;
    const world = await seedWorld(withL1);
    await settle(withL1);
    const first: Record<string, { body: string; etag: string }> = {};
    for (const [bucket, url] of bucketsOf(world)) {
      const miss = await get200(withL1, url);
      expect([bucket, xcache(miss)]).toEqual([bucket, 'MISS']);
      expect(miss.headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      expect(miss.headers['content-type']).toMatch(/^application\/json/);
      const hit = await get200(withL1, url);
      expect([bucket, xcache(hit)]).toEqual([bucket, 'HIT-L1']);
      expect(hit.body).toBe(miss.body);
      expect(hit.headers.etag).toBe(miss.headers.etag);
      first[bucket] = { body: miss.body, etag: String(miss.headers.etag) };
    }

    // The cached bytes are exactly what the source gives (same serialisation, same ETag).
    for (const [bucket, url] of bucketsOf(world)) {
      const fresh = await get200(cacheOff, url);
      expect([bucket, fresh.body]).toEqual([bucket, first[bucket].body]);
      expect([bucket, fresh.headers.etag]).toEqual([bucket, first[bucket].etag]);
    }

    // A hit does not touch the database: a change nobody announced (made with change capture off) is not seen.
    await changeWorldBehindTheCache(suite.ctx.sql, world);
    await settle(withL1);
    for (const [bucket, url] of bucketsOf(world)) {
      const hit = await get200(withL1, url);
      expect([bucket, xcache(hit), hit.body]).toEqual([bucket, 'HIT-L1', first[bucket].body]);
    }
  });

  it('with L1_ENABLED=false answers from Redis (HIT-L2) every time, and shares L2 with the other instances', async () => {
    const [withL1, withoutL1] = suite.apps;
    const world = await seedWorld(withL1);
    await settle(withL1);
    const before = await counters(withoutL1, 'catalog', 'product');
    for (const [bucket, url] of bucketsOf(world)) {
      const miss = await get200(withoutL1, url);
      expect([bucket, xcache(miss)]).toEqual([bucket, 'MISS']);
      for (let i = 0; i < 2; i++) {
        const hit = await get200(withoutL1, url);
        expect([bucket, xcache(hit)]).toEqual([bucket, 'HIT-L2']);
        expect(hit.body).toBe(miss.body);
        expect(hit.headers.etag).toBe(miss.headers.etag);
      }
      // The L1 instance finds the entry the other one filled in Redis, then keeps it in L1.
      const shared = await get200(withL1, url);
      expect([bucket, xcache(shared)]).toEqual([bucket, 'HIT-L2']);
      expect(shared.body).toBe(miss.body);
      expect(xcache(await get200(withL1, url))).toBe('HIT-L1');
    }
    const after = await counters(withoutL1, 'catalog', 'product');
    expect(after.l1Hits).toBe(before.l1Hits);
    expect(after.l2Hits - before.l2Hits).toBe(2);
    expect(after.hits - before.hits).toBe(2);
    expect(after.misses - before.misses).toBe(1);
  });

  it('with CACHE_ENABLED=false answers BYPASS and always reads the source', async () => {
    const cacheOff = suite.apps[2];
    const world = await seedWorld(cacheOff);
    const first: Record<string, string> = {};
    for (const [bucket, url] of bucketsOf(world)) {
      const a = await get200(cacheOff, url);
      const b = await get200(cacheOff, url);
      expect([bucket, xcache(a), xcache(b)]).toEqual([bucket, 'BYPASS', 'BYPASS']);
      expect(b.body).toBe(a.body);
      expect(a.headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      first[bucket] = a.body;
    }
    await changeWorldBehindTheCache(suite.ctx.sql, world);
    for (const [bucket, url] of bucketsOf(world)) {
      const fresh = await get200(cacheOff, url);
      expect([bucket, xcache(fresh)]).toEqual([bucket, 'BYPASS']);
      expect([bucket, fresh.body === first[bucket]]).toEqual([bucket, false]);
    }
    const stats = await counters(cacheOff, 'catalog', 'product');
    expect(stats).toMatchObject({ hits: 0, l1Hits: 0, l2Hits: 0, misses: 0 });
    expect(stats.bypassed).toBeGreaterThanOrEqual(4);
  });

  it('answers 304 with no body to If-None-Match with the current ETag (HIT-L1, HIT-L2, MISS and BYPASS alike)', async () => {
    const [withL1, withoutL1, cacheOff] = suite.apps;
    const world = await seedWorld(withL1);
    await settle(withL1);
    for (const [bucket, url] of bucketsOf(world)) {
      const miss = await get200(withL1, url);
      const etag = String(miss.headers.etag);

      const l1 = await get(withL1, url, { 'if-none-match': etag });
      expect([bucket, l1.statusCode, xcache(l1), l1.body]).toEqual([bucket, 304, 'HIT-L1', '']);
      expect(l1.headers.etag).toBe(etag);

      const l2 = await get(withoutL1, url, { 'if-none-match': etag });
      expect([bucket, l2.statusCode, xcache(l2), l2.body]).toEqual([bucket, 304, 'HIT-L2', '']);

      const off = await get(cacheOff, url, { 'if-none-match': etag });
      expect([bucket, off.statusCode, xcache(off), off.body]).toEqual([bucket, 304, 'BYPASS', '']);

      // Weak form and lists match too (RFC 9110 weak comparison).
      const weak = await get(withL1, url, { 'if-none-match': `"nope", W/${etag}` });
      expect([bucket, weak.statusCode]).toEqual([bucket, 304]);
    }

    // Dropped without a data change: the refill has the same bytes, so the same ETag still gives 304.
    const etag = String((await get200(withL1, world.routes.product)).headers.etag);
    await withL1.get(CatalogCacheService).invalidate([`catalog:product:${world.productId}`]);
    const refilled = await get(withL1, world.routes.product, { 'if-none-match': etag });
    expect([refilled.statusCode, xcache(refilled), refilled.body]).toEqual([304, 'MISS', '']);
  });

  it('answers 200 with the new representation to an ETag that went stale', async () => {
    const [withL1, withoutL1] = suite.apps;
    const world = await seedWorld(withL1);
    const old = await get200(withL1, world.routes.product);
    const oldOrder = await get200(withL1, world.routes.detail);
    expectStatus(await call(withL1, 'PATCH', world.routes.product, { priceCents: 4321 }), 200);
    expectStatus(await call(withL1, 'PATCH', world.routes.detail, { status: 'paid' }), 200);
    // The writes' invalidations come through CDC, a moment after the writes answered.
    await settle(withL1);

    for (const app of [withL1, withoutL1]) {
      const product = await get(app, world.routes.product, { 'if-none-match': String(old.headers.etag) });
      expect(product.statusCode).toBe(200);
      expect(json(product).priceCents).toBe(4321);
      expect(product.headers.etag).not.toBe(old.headers.etag);

      const order = await get(app, world.routes.detail, { 'if-none-match': String(oldOrder.headers.etag) });
      expect(order.statusCode).toBe(200);
      expect(json(order).status).toBe('paid');
      expect(order.headers.etag).not.toBe(oldOrder.headers.etag);
    }
  });

  it('an upper-case id shares the entry of its canonical lower-case form', async () => {
    const withL1 = suite.bff;
    const world = await seedWorld(withL1);
    await settle(withL1);
    const lower = await get200(withL1, world.routes.product);
    expect(xcache(lower)).toBe('MISS');
    const upper = await get200(withL1, `/catalog/products/${world.productId.toUpperCase()}`);
    expect(xcache(upper)).toBe('HIT-L1');
    expect(upper.body).toBe(lower.body);
  });

  it('never caches an error: an unknown product is 404 on every read and leaves nothing behind', async () => {
    const withL1 = suite.bff;
    const url = '/catalog/products/00000000-0000-4000-8000-0000000000aa';
    for (let i = 0; i < 3; i++) {
      const res = await get(withL1, url);
      expect(res.statusCode).toBe(404);
      expect(res.headers.etag).toBeUndefined();
    }
  });
});
