import { CanActivate, Controller, Injectable, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AppConfigModule } from '@app/config';
import { CachedRead, CachedReadInterceptor, CacheModule, RedisCacheStore } from '@app/cache';
import { MetricsModule } from '@app/http';
import { CatalogCacheService } from '../../apps/bff/src/catalog/catalog-cache.service';
import { useSeededBff } from '../harness/seeded-bff';
import { counters, delta, get, get200, seedWorld, settle, xcache } from './support';

/**
 * Hits are answered in Fastify's onRequest hook (CachedHits), before Nest's
 * guards, pipes and interceptors; everything else reaches the route's
 * CachedReadInterceptor, which reads through the cache.
 */
describe('early hit path', () => {
  const suite = useSeededBff({ instances: [{}, { L1_ENABLED: 'false' }] });
  const intercept = jest.spyOn(CachedReadInterceptor.prototype, 'intercept');

  afterAll(() => intercept.mockRestore());

  it('answers L1 and L2 hits without entering the route; a miss goes through the interceptor once', async () => {
    const [withL1, withoutL1] = suite.apps;
    const world = await seedWorld(withL1);
    await settle(withL1);
    for (const [bucket, url] of Object.entries(world.routes)) {
      intercept.mockClear();
      const miss = await get200(withL1, url);
      expect([bucket, xcache(miss), intercept.mock.calls.length]).toEqual([bucket, 'MISS', 1]);

      const l1 = await get200(withL1, url);
      const l2 = await get200(withoutL1, url);
      expect([bucket, xcache(l1), xcache(l2), intercept.mock.calls.length]).toEqual([bucket, 'HIT-L1', 'HIT-L2', 1]);
      expect([bucket, l2.body, l2.headers.etag]).toEqual([bucket, miss.body, miss.headers.etag]);

      const notModified = await get(withoutL1, url, { 'if-none-match': String(miss.headers.etag) });
      expect([bucket, notModified.statusCode, notModified.body]).toEqual([bucket, 304, '']);
    }
  });

  it('counts early L2 hits and copies them into L1', async () => {
    const withL1 = suite.bff;
    const world = await seedWorld(withL1);
    await settle(withL1);
    const url = world.routes.product;
    await get200(withL1, url); // fills L2 (and withL1's L1)
    const other = await suite.ctx.startBff();
    const before = await counters(other, 'catalog', 'product');
    expect(xcache(await get200(other, url))).toBe('HIT-L2');
    expect(xcache(await get200(other, url))).toBe('HIT-L1');
    expect(delta(before, await counters(other, 'catalog', 'product'))).toEqual({ hits: 2, l2Hits: 1, l1Hits: 1 });
  });

  it('asks L2 for the entry once per miss: after the hook found none, the route goes straight to the fill lease', async () => {
    const withL1 = suite.bff;
    const world = await seedWorld(withL1);
    await settle(withL1);
    const gets = jest.spyOn(RedisCacheStore.prototype, 'get');
    const leases = jest.spyOn(RedisCacheStore.prototype, 'acquireLease');
    try {
      expect(xcache(await get200(withL1, world.routes.product))).toBe('MISS');
      const key = `catalog:product:${world.productId}`;
      expect(gets.mock.calls).toEqual([[key]]);
      expect(leases.mock.calls.map(([leaseKey, , , unlessFilled]) => [leaseKey, unlessFilled])).toEqual([[key, true]]);
    } finally {
      gets.mockRestore();
      leases.mockRestore();
    }
  });

  it('lets an identifier that cannot form a key reach the route, which answers 400', async () => {
    intercept.mockClear();
    const res = await get(suite.bff, '/catalog/products/not-a-uuid');
    expect(res.statusCode).toBe(400);
    expect(intercept.mock.calls.length).toBe(1);
  });

  it('refuses to boot an app with a guarded @CachedRead route, since hits skip guards', async () => {
    @Injectable()
    class DenyAll implements CanActivate {
      canActivate(): boolean {
        return false;
      }
    }

    @Controller('guarded')
    class GuardedController {
      @UseGuards(DenyAll)
      @CachedRead(CatalogCacheService, 'product', () => 'catalog:product:guarded')
      get(): unknown {
        return {};
      }
    }

    const created = NestFactory.create(
      {
        module: class GuardedApp {},
        imports: [AppConfigModule.forRoot({ overrides: suite.ctx.env() }), MetricsModule, CacheModule.forRoot()],
        controllers: [GuardedController],
      },
      new FastifyAdapter(),
      { logger: false, abortOnError: false },
    );
    await expect(created).rejects.toThrow(
      'GuardedController.get: @CachedRead answers hits before guards run, so a cached read must not be guarded',
    );
  });
});
