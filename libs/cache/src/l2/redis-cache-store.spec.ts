import type { Redis } from 'ioredis';
import { CircuitBreaker } from './circuit-breaker';
import { INVALIDATE_CHUNK, RedisCacheStore } from './redis-cache-store';
import { RedisNames } from './redis-names';

/**
 * How RedisCacheStore.invalidate splits a large invalidation into steps
 * (stale-fill-guard.ts: I1 fence, I2 resolve, I3 drop); the scripts themselves
 * run against the real Redis in test/cache/fence-protocol.e2e-spec.ts. Here
 * the connection only records the calls.
 */
describe('RedisCacheStore.invalidate: bounded steps', () => {
  function store() {
    const calls: { step: string; names: string[] }[] = [];
    const redis = {
      status: 'ready',
      defineCommand: () => undefined,
      // sequence, epoch, fences 0, fences 1 (the 4 keys), fence ttl, dependencies…
      cacheFenceDependencies: async (...args: (string | number)[]) => {
        calls.push({ step: 'fence', names: args.slice(5).map(String) });
        return 1;
      },
      // numKeys, dependency sets…, prefix: as if each set held one view, `view-of-<dependency>`
      cacheResolve: async (...args: (string | number)[]) => {
        const sets = args.slice(1, -1).map(String);
        calls.push({ step: 'resolve', names: sets });
        // One resolved record for the call, named after its first set, holding every view.
        return [sets.map((set) => `catalog:view-of-${set.slice('p:'.length)}`), [sets[0]], [sets.length]];
      },
      // numKeys, records' sets…, prefix, their sizes…
      cacheForget: async (...args: (string | number)[]) => {
        const count = Number(args[0]);
        calls.push({ step: 'forget', names: args.slice(1, 1 + count).map(String) });
        expect(args.slice(2 + count).map(Number)).toHaveLength(count);
        return 0;
      },
      // One round trip per drop on a single Redis: the drop script (numKeys, entries…, bookkeeping prefix), then
      // the channel message.
      pipeline: () => {
        const results: [null, unknown][] = [];
        const pipeline = {
          cacheDrop: (...args: (string | number)[]) => {
            calls.push({ step: 'drop', names: args.slice(1, -1).map(String) });
            results.push([null, 0]);
            return pipeline;
          },
          publish: () => (results.push([null, 1]), pipeline),
          exec: async () => results,
        };
        return pipeline;
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

  it('fences and resolves up to INVALIDATE_CHUNK dependencies per call, before dropping what they name', async () => {
    const { cache, calls } = store();
    const dependencies = names('catalog:deps:product:', INVALIDATE_CHUNK + 10);
    const dropped = await cache.invalidate(['catalog:product:1'], dependencies, 'me');
    expect(calls.map((c) => `${c.step} ${c.names.length}`)).toEqual([
      `fence ${INVALIDATE_CHUNK}`,
      `resolve ${INVALIDATE_CHUNK}`,
      `drop ${INVALIDATE_CHUNK}`, // the entry of each view found (the script names its lease and fill ticket)
      'forget 1', // the call's resolved record, once its views are gone
      'fence 10',
      'resolve 10',
      'drop 10',
      'forget 1',
      'drop 1',
    ]);
    expect(calls.filter((c) => c.step === 'fence').flatMap((c) => c.names)).toEqual(dependencies);
    expect(dropped).toHaveLength(INVALIDATE_CHUNK + 11);
  });

  it('drops keys in calls of at most INVALIDATE_CHUNK keys, each key once, and answers every dropped key', async () => {
    const { cache, calls } = store();
    const keys = names('catalog:product:', 12_000);
    const dropped = await cache.invalidate([...keys, keys[0]], [], 'me');
    expect(calls.map((c) => `${c.step} ${c.names.length}`)).toEqual(['drop 5000', 'drop 5000', 'drop 2000']);
    expect(dropped).toEqual(keys);
  });

  it('makes no call for nothing', async () => {
    const { cache, calls } = store();
    expect(await cache.invalidate([], [], 'me')).toEqual([]);
    expect(calls).toEqual([]);
  });
});
