import { eventually } from '../../tools/eventually';
import Redis from 'ioredis';
import { RedisCacheStore, RedisNames } from '@app/cache';
import { createCategoryWithProduct } from '../harness/fixtures';
import { RedisServer } from '../../tools/redis-server';
import { useTestContext } from '../harness/test-context';
import { App, get200, json, settle, xcache } from './support';

/**
 * docs/contract.md §5.5.1: no eviction may make a view stale. Dependency sets,
 * the fence sequence and fence markers carry no TTL, so the supported
 * (volatile-* and noeviction) policies never evict them; the allkeys-*
 * policies, which could, are refused. Each case runs on its own redis-server
 * with a small maxmemory.
 */
describe('Redis eviction', () => {
  const ctx = useTestContext();
  const servers: RedisServer[] = [];

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  async function redisWith(policy: string, maxmemory = '4mb'): Promise<RedisServer> {
    const server = await RedisServer.start({ args: ['--maxmemory', maxmemory, '--maxmemory-policy', policy] });
    servers.push(server);
    return server;
  }

  it.each(['allkeys-lru', 'allkeys-lfu', 'allkeys-random'])(
    'refuses to boot on %s, with one line that names the policy and the fix',
    async (policy) => {
      const redis = await redisWith(policy);
      await expect(ctx().startBff({ REDIS_URL: redis.url })).rejects.toThrow(
        new RegExp(`^Redis maxmemory-policy ${policy} may evict .* use one of noeviction, volatile-lru`),
      );
    },
  );

  it('keeps every view exact under volatile-lru memory pressure: guard names survive, entries may go', async () => {
    const redis = await redisWith('volatile-lru');
    const app: App = await ctx().startBff({ REDIS_URL: redis.url });
    const { category, product } = await createCategoryWithProduct(app);
    await settle(app);
    const listing = `/catalog/categories/${category.slug}/products`;
    await get200(app, listing);
    expect(xcache(await get200(app, listing))).toMatch(/^HIT/);

    const names = new RedisNames(ctx().redisPrefix);
    const raw = new Redis(redis.url);
    try {
      // This product's dependency set, and the catalog's fence sequence and dependency fence epoch (the inserts
      // above fenced their categories' dependencies).
      const guarded = [
        names.entry(`catalog:deps:product:${product.id}`),
        names.fenceSequence('catalog'),
        names.dependencyFenceEpoch('catalog'),
      ];
      expect(await raw.exists(...guarded)).toBe(3);
      // Memory pressure from names with a TTL (what volatile-lru may evict).
      const filler = 'x'.repeat(16 * 1024);
      // Twice maxmemory's worth of evictions: every name with a TTL written before is gone by then.
      const evicted = async () => Number(/evicted_keys:(\d+)/.exec(await raw.info('stats'))![1]);
      for (let i = 0; (await evicted()) < 500; i++) {
        if (i > 5000) throw new Error('Redis does not evict: is maxmemory set?');
        await raw.set(`filler:${i}`, filler, 'EX', 3600);
      }
      expect(await raw.exists(...guarded)).toBe(3);
      await ctx().sql.query(`UPDATE catalog.products SET name = 'Renamed under pressure' WHERE id = $1`, [product.id]);
      await eventually(async () => {
        const names = json(await get200(app, listing)).products.map((p: { name: string }) => p.name);
        expect(names).toEqual(['Renamed under pressure']);
      });
    } finally {
      raw.disconnect();
    }
  });

  it('invalidates on a full Redis (noeviction, writes refused): fills fail, the change is never missed', async () => {
    const redis = await redisWith('noeviction', '3mb');
    const app: App = await ctx().startBff({ REDIS_URL: redis.url });
    const { product } = await createCategoryWithProduct(app);
    await settle(app);
    const url = `/catalog/products/${product.id}`;
    await get200(app, url);
    expect(xcache(await get200(app, url))).toMatch(/^HIT/);
    const raw = new Redis(redis.url);
    try {
      // Fill memory past maxmemory with one large value: every later write that needs memory is refused.
      await raw.setrange(`${ctx().redisPrefix}filler`, 4 * 1024 * 1024, 'x');
      await expect(raw.set(`${ctx().redisPrefix}probe`, 'x')).rejects.toThrow(/^OOM/);
      // The invalidation itself (as the subscriber runs it) still gets through and drops the entry everywhere.
      const dropped = await app.get(RedisCacheStore).invalidate([`catalog:product:${product.id}`], [], 'test');
      expect(dropped).toEqual([`catalog:product:${product.id}`]);
      expect(await raw.exists(new RedisNames(ctx().redisPrefix).entry(`catalog:product:${product.id}`))).toBe(0);
      expect(xcache(await get200(app, url))).not.toMatch(/^HIT/);
    } finally {
      raw.disconnect();
    }
  });
});
