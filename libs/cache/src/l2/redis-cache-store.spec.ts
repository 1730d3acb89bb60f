import type { Redis } from 'ioredis';
import { CircuitBreaker } from './circuit-breaker';
import { INVALIDATE_CHUNK, RedisCacheStore } from './redis-cache-store';
import { RedisNames } from './redis-names';

/**
 * How RedisCacheStore.invalidate splits a large invalidation into script
 * calls; the script itself runs against the real Redis in test/cache and
 * test/cdc. Here the connection only records the calls.
 */
describe('RedisCacheStore.invalidate: bounded script calls', () => {
  function store() {
    const calls: { keys: string[]; dependencies: string[] }[] = [];
    const redis = {
      status: 'ready',
      defineCommand: () => undefined,
      // numKeys, sequence, index, entry prefix, lease prefix, fence prefix, channel, fence ttl, k, names…, origin
      cacheInvalidate: async (...args: (string | number)[]) => {
        const k = Number(args[8]);
        const names = args.slice(9, -1).map(String);
        calls.push({ keys: names.slice(0, k), dependencies: names.slice(k) });
        return names.slice(0, k); // as if each key had been dropped
      },
    } as unknown as Redis;
    const cache = new RedisCacheStore(
      redis,
      new RedisNames('p:'),
      new CircuitBreaker({ failureThreshold: 5, cooldownMs: 1000 }),
    );
    return { cache, calls };
  }
  const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

  it('sends up to INVALIDATE_CHUNK names in one call', async () => {
    const { cache, calls } = store();
    await cache.invalidate(names('k', 3000), names('d', INVALIDATE_CHUNK - 3000), 'me');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual({ keys: names('k', 3000), dependencies: names('d', INVALIDATE_CHUNK - 3000) });
  });

  it('splits more names into calls of at most INVALIDATE_CHUNK, keys and dependencies each in order, and answers every dropped key', async () => {
    const { cache, calls } = store();
    const keys = names('k', 12_000);
    const dependencies = names('d', 4000);
    const dropped = await cache.invalidate(keys, dependencies, 'me');
    expect(calls.map((c) => c.keys.length + c.dependencies.length)).toEqual([5000, 5000, 5000, 1000]);
    expect(calls.flatMap((c) => c.keys)).toEqual(keys);
    expect(calls.flatMap((c) => c.dependencies)).toEqual(dependencies);
    expect(calls[2]).toMatchObject({ keys: keys.slice(10_000), dependencies: dependencies.slice(0, 3000) });
    expect(dropped).toEqual(keys);
  });

  it('makes no call for nothing', async () => {
    const { cache, calls } = store();
    expect(await cache.invalidate([], [], 'me')).toEqual([]);
    expect(calls).toEqual([]);
  });
});
