import { RedisCacheStore, RedisNames } from '@app/cache';
import { useTestContext } from '../harness/test-context';
import { App, rawRedis } from './support';

// Not exported by the lib: the fence constants are an engine detail; the values the argument needs are checked here.
const MAX_FILL_MS = 30_000;

/**
 * docs/contract.md §5.4, on a real Redis: a fill is refused when it reaches
 * Redis after its deadline, by Redis's own clock, and an invalidation's marker
 * outlives that deadline. Together these are the fence's argument
 * (libs/cache/src/engine/stale-fill-guard.ts): a FILL held in a hung
 * connection for minutes cannot write a value older than an invalidation. The
 * interleavings themselves (hold the fill, invalidate, deliver late) are
 * unit-tested on the fake store (two-tier-cache.spec.ts).
 */
describe('fill deadline in Redis time', () => {
  const ctx = useTestContext();
  let app: App;
  let store: RedisCacheStore;
  let names: RedisNames;
  const key = 'catalog:product:00000000-0000-4000-8000-00000000fd01';

  beforeAll(async () => {
    app = await ctx().startBff();
    store = app.get(RedisCacheStore);
    names = store.names;
  });

  it('answers the deadline from Redis TIME: lease time + MAX_FILL_MS', async () => {
    const redis = rawRedis();
    try {
      const [seconds, micros] = await redis.time();
      const redisNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const fence = await store.acquireLease(key, 'probe-1', 5000, true);
      expect(fence).toBeDefined();
      expect(fence!.deadline - redisNow).toBeGreaterThanOrEqual(MAX_FILL_MS);
      expect(fence!.deadline - redisNow).toBeLessThan(MAX_FILL_MS + 1000);
      await store.releaseLease(key, 'probe-1');
    } finally {
      redis.disconnect();
    }
  });

  it('refuses a fill that arrives after its deadline, and writes one that arrives in time', async () => {
    const fence = (await store.acquireLease(key, 'late', 5000, true))!;
    // As if the FILL had waited in a hung connection past the deadline: the same fence, one deadline earlier.
    const late = { sequence: fence.sequence, deadline: fence.deadline - MAX_FILL_MS - 1 };
    const options = { token: 'late', ttlMs: 0, dependencies: [] };
    expect(await store.fill(key, Buffer.from('{}\nold'), { ...options, fence: late })).toBe('expired');
    expect(await store.get(key)).toBeNull();
    const fresh = (await store.acquireLease(key, 'in-time', 5000, true))!;
    expect(await store.fill(key, Buffer.from('{}\nnew'), { ...options, token: 'in-time', fence: fresh })).toBe(
      'written',
    );
  });

  it('leaves markers that outlive every fill that could still be written: no TTL, listed for later removal', async () => {
    await store.invalidate([key], [], 'test');
    const redis = rawRedis();
    try {
      // No TTL: neither expiry nor a volatile-* eviction can remove it before a late fill is checked.
      expect(await redis.pttl(names.fence(key))).toBe(-1);
      expect(await redis.zscore(names.fenceIndex, names.fence(key))).not.toBeNull();
    } finally {
      redis.disconnect();
    }
  });

  it('deletes markers older than the fence TTL, never a younger one', async () => {
    const redis = rawRedis();
    try {
      const old = names.fence('catalog:product:00000000-0000-4000-8000-00000000fd02');
      await redis.set(old, '1');
      // Listed as set 61 s ago (Redis time), past FENCE_TTL_MS = 60 s.
      const [seconds] = await redis.time();
      await redis.zadd(names.fenceIndex, (Number(seconds) - 61) * 1000, old);
      await store.invalidate([key], [], 'test');
      expect(await redis.exists(old)).toBe(0);
      expect(await redis.zscore(names.fenceIndex, old)).toBeNull();
      expect(await redis.exists(names.fence(key))).toBe(1);
    } finally {
      redis.disconnect();
    }
  });
});
