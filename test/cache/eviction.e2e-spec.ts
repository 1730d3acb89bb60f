import Redis from 'ioredis';
import { RedisNames } from '@app/cache';
import { createCategoryWithProduct, eventually } from '../harness/fixtures';
import { RedisServer } from '../harness/redis-server';
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
      const guarded = [names.entry(`catalog:deps:product:${product.id}`), names.fenceSequence];
      expect(await raw.exists(...guarded)).toBe(2);
      // Memory pressure from names with a TTL (what volatile-lru may evict), until Redis evicts.
      const filler = 'x'.repeat(16 * 1024);
      for (let i = 0; Number(/evicted_keys:(\d+)/.exec(await raw.info('stats'))![1]) === 0; i++) {
        if (i > 2000) throw new Error('Redis never evicted: is maxmemory set?');
        await raw.set(`filler:${i}`, filler, 'EX', 3600);
      }
      expect(await raw.exists(...guarded)).toBe(2);
      await ctx().sql.query(`UPDATE catalog.products SET name = 'Renamed under pressure' WHERE id = $1`, [product.id]);
      await eventually(async () => {
        const names = json(await get200(app, listing)).products.map((p: { name: string }) => p.name);
        expect(names).toEqual(['Renamed under pressure']);
      });
    } finally {
      raw.disconnect();
    }
  });
});
