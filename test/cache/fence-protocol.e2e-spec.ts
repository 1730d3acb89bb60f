import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { CircuitBreaker, FillFence, RedisCacheStore, RedisNames } from '@app/cache';
import { createRedisClient, masterConnections, RedisTopology } from '@app/redis';
import { RedisCluster } from '../../tools/redis-cluster';
import { eventually } from '../../tools/eventually';
import { TEST_REDIS_URL } from '../harness/test-database';

// Not exported by the lib: the fence constants are an engine detail; the values the argument needs are checked here.
const MAX_FILL_MS = 30_000;
const FENCE_TTL_MS = 60_000;

/**
 * The fencing protocol of libs/cache/src/engine/stale-fill-guard.ts, step by
 * step on a real Redis. A fill is F1+F2 (lease and sequence), the source read,
 * F3 (register), F4 (check), F5 (write). An invalidation is the commit, then
 * I1 (fence dependencies), I2 (resolve), I3 (drop); a whole-domain drop is the
 * commit, A1+A2 (fence the domain), A3 (SCAN + UNLINK). Every interleaving of
 * a fill with an invalidation is run, and none may leave the old value cached.
 *
 * All of it on a single Redis and on a Redis Cluster (3 masters + 3 replicas),
 * where the names of one step share a hash slot and the steps of one fill or
 * invalidation land on different masters: no step may raise CROSSSLOT.
 */

type Step = () => Promise<void>;

/** Every way to merge a steps of one sequence with b of another, keeping each one's order: 'a'/'b' per position. */
function orders(a: number, b: number): ('a' | 'b')[][] {
  if (a === 0) return [Array(b).fill('b')];
  if (b === 0) return [Array(a).fill('a')];
  return [
    ...orders(a - 1, b).map((rest) => ['a' as const, ...rest]),
    ...orders(a, b - 1).map((rest) => ['b' as const, ...rest]),
  ];
}

function merge(order: ('a' | 'b')[], a: Step[], b: Step[]): Step[] {
  const [as, bs] = [[...a], [...b]];
  return order.map((which) => (which === 'a' ? as.shift()! : bs.shift()!));
}

type Start = () => Promise<{ topology: RedisTopology; cluster?: RedisCluster }>;

describe.each<[string, Start]>([
  ['a single Redis', async () => ({ topology: { kind: 'single', url: TEST_REDIS_URL } })],
  [
    'a Redis Cluster',
    async () => {
      const cluster = await RedisCluster.start();
      return { topology: { kind: 'cluster', nodes: cluster.startupNodes }, cluster };
    },
  ],
])('fence protocol (single-slot steps) on %s', (_, start) => {
  const prefix = `fence-${randomUUID().slice(0, 8)}:`;
  const names = new RedisNames(prefix);
  let cluster: RedisCluster | undefined;
  let redis: Redis;
  let store: RedisCacheStore;
  let run = 0;

  beforeAll(async () => {
    const started = await start();
    cluster = started.cluster;
    redis = createRedisClient(started.topology, { name: 'fence-protocol-test', retryDelayMs: () => 100 });
    store = new RedisCacheStore(redis, names, new CircuitBreaker({ failureThreshold: 1000, cooldownMs: 1000 }));
  }, 60_000);

  afterAll(async () => {
    for (const node of masterConnections(redis)) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
        for (const name of found) await redis.unlink(name);
        cursor = next;
      } while (cursor !== '0');
    }
    redis.disconnect();
    await cluster?.stop();
  });

  /** Every name under the prefix, on every master (what A3's SCAN walks). */
  async function allNames(): Promise<string[]> {
    const found: string[] = [];
    for (const node of masterConnections(redis)) found.push(...(await node.keys(`${prefix}*`)));
    return found;
  }

  /** The source: one row, changed by the commit step. */
  interface Source {
    value: string;
  }

  /** The five steps of a fill of `key` whose view depends on `dependencies`. */
  function fillSteps(key: string, dependencies: string[], source: Source): Step[] {
    const token = `token-${++run}`;
    let fence: FillFence | undefined;
    let read = '';
    let refused = false;
    const options = () => ({ fence: fence!, token, ttlMs: 0, dependencies });
    return [
      async () => {
        fence = await store.acquireLease(key, token, 5000, true);
        refused = fence === undefined;
      },
      async () => {
        read = source.value;
      },
      async () => {
        if (!refused) await store.register(key, dependencies);
      },
      async () => {
        if (!refused) refused = (await store.check(key, options())) !== 'written';
      },
      async () => {
        if (!refused) await store.write(key, Buffer.from(read), options());
      },
    ];
  }

  const commit =
    (source: Source): Step =>
    async () => {
      source.value = 'new';
    };

  const cached = async (key: string) => (await store.get(key))?.toString() ?? null;

  /**
   * Runs every interleaving of a fill with a change + its invalidation (built by `invalidation` for a fresh
   * key), and asserts the cache never ends holding the old value. Answers the final values seen.
   */
  async function everyInterleaving(
    invalidation: (key: string, source: Source) => Step[],
    dependencies: (key: string) => string[] = () => [],
  ): Promise<Set<string | null>> {
    const seen = new Set<string | null>();
    const size = invalidation('catalog:product:shape', { value: '' }).length;
    for (const order of orders(5, size)) {
      const key = `catalog:listing:k${++run}`;
      const source = { value: 'old' };
      for (const step of merge(order, fillSteps(key, dependencies(key), source), invalidation(key, source))) {
        await step();
      }
      const value = await cached(key);
      if (value === 'old') throw new Error(`the old value stayed cached after ${order.join('')}`);
      seen.add(value);
    }
    return seen;
  }

  it('a view invalidated by its own key: commit, then drop (I3)', async () => {
    const seen = await everyInterleaving((key, source) => [commit(source), () => store.drop([key], 'test')]);
    // Not vacuous: some orders keep a fill that read after the change, others refuse or drop one.
    expect(seen).toEqual(new Set([null, 'new']));
  });

  it('a view invalidated through a dependency it names once read: commit, I1, I2, I3, I4', async () => {
    const seen = await everyInterleaving(
      (key, source) => {
        const dependency = `catalog:deps:product:of-${key}`;
        let resolved: Awaited<ReturnType<RedisCacheStore['resolve']>> = { views: [], recorded: [] };
        return [
          commit(source),
          () => store.fenceDependencies('catalog', [dependency]),
          async () => {
            resolved = await store.resolve([dependency]);
          },
          () => store.drop(resolved.views, 'test'),
          () => store.forget(resolved.recorded),
        ];
      },
      (key) => [`catalog:deps:product:of-${key}`],
    );
    expect(seen).toEqual(new Set([null, 'new']));
  });

  it('a whole-domain drop: commit, A1+A2 (fence the domain, revoke checked fills), A3 (SCAN, then UNLINK)', async () => {
    // A3 as SCAN's worst case: it returns what was there when it began, and a name written meanwhile is missed.
    const prefixes = [names.entry('catalog:'), ...names.keyBookkeepingPrefixes('catalog')];
    const seen = await everyInterleaving((_, source) => {
      let scanned: string[] = [];
      return [
        commit(source),
        () => store.fenceDomains(['catalog']),
        async () => {
          scanned = (await allNames()).filter((name) => prefixes.some((p) => name.startsWith(p)));
        },
        async () => {
          for (const name of scanned) await redis.unlink(name);
        },
      ];
    });
    expect(seen).toEqual(new Set([null, 'new']));
  });

  it('a fill of a view whose dependency changed before its lease is written (no false refusal)', async () => {
    const key = 'catalog:listing:unchanged';
    const dependency = 'catalog:deps:product:before';
    await store.invalidate([], [dependency], 'test');
    const fence = (await store.acquireLease(key, 'before', 5000, true))!;
    const options = { fence, token: 'before', ttlMs: 0, dependencies: [dependency] };
    expect(await store.fill(key, Buffer.from('view'), options)).toBe('written');
    // And a later change of it drops the view (it was registered).
    expect(await store.invalidate([], [dependency], 'test')).toEqual([key]);
    expect(await cached(key)).toBeNull();
  });

  describe('deadlines in Redis time', () => {
    const key = 'catalog:product:00000000-0000-4000-8000-00000000fd01';
    const redisNow = async () => {
      const [seconds, micros] = await redis.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };

    it('answers both deadlines from Redis TIME: lease time + MAX_FILL_MS', async () => {
      const now = await redisNow();
      const fence = (await store.acquireLease(key, 'probe-1', 5000, true))!;
      for (const deadline of [fence.deadline, fence.domainDeadline]) {
        expect(deadline - now).toBeGreaterThanOrEqual(MAX_FILL_MS);
        expect(deadline - now).toBeLessThan(MAX_FILL_MS + 1000);
      }
      await store.releaseLease(key, 'probe-1');
    });

    it.each([
      ['the write (F5) reaches Redis', 'deadline'],
      ['the check (F4) reaches Redis', 'domainDeadline'],
    ] as const)('refuses a fill when %s after its deadline, and writes one in time', async (_, which) => {
      const fence = (await store.acquireLease(key, 'late', 5000, true))!;
      // As if the step had waited in a hung connection past the deadline: the same fence, one deadline earlier.
      const late = { ...fence, [which]: fence[which] - MAX_FILL_MS - 1 };
      const options = { token: 'late', ttlMs: 0, dependencies: [] };
      expect(await store.fill(key, Buffer.from('{}\nold'), { ...options, fence: late })).toBe('expired');
      expect(await store.get(key)).toBeNull();
      const fresh = (await store.acquireLease(key, 'in-time', 5000, true))!;
      expect(await store.fill(key, Buffer.from('{}\nnew'), { ...options, token: 'in-time', fence: fresh })).toBe(
        'written',
      );
      await store.drop([key], 'test');
    });
  });

  describe('dependency fences', () => {
    const [fences0, fences1] = names.dependencyFences('catalog');
    const epochNow = async () => {
      const [seconds] = await redis.time();
      return Math.floor((Number(seconds) * 1000) / FENCE_TTL_MS);
    };

    it('carry no TTL: neither expiry nor a volatile-* eviction removes one a fill could still need', async () => {
      await store.fenceDependencies('catalog', ['catalog:deps:product:ttl']);
      const epoch = await epochNow();
      const hash = epoch % 2 === 0 ? fences0 : fences1;
      expect(await redis.hget(hash, 'catalog:deps:product:ttl')).not.toBeNull();
      for (const name of [hash, names.fenceSequence('catalog'), names.dependencyFenceEpoch('catalog')]) {
        expect(await redis.pttl(name)).toBe(-1);
      }
    });

    it('are deleted two epochs (2 × FENCE_TTL_MS) after they were set, never sooner', async () => {
      let epoch: number;
      let current: string;
      let previous: string;
      do {
        epoch = await epochNow();
        [current, previous] = epoch % 2 === 0 ? [fences0, fences1] : [fences1, fences0];
        // As if the last fences were set one epoch ago: the current parity's hash then holds ones two epochs old.
        await redis.hset(current, 'catalog:deps:product:two-epochs-old', '1');
        await redis.hset(previous, 'catalog:deps:product:one-epoch-old', '1');
        await redis.set(names.dependencyFenceEpoch('catalog'), String(epoch - 1));
        await store.fenceDependencies('catalog', ['catalog:deps:product:later']);
      } while ((await epochNow()) !== epoch); // an epoch boundary crossed mid-test: set it up again
      expect(await redis.hget(current, 'catalog:deps:product:two-epochs-old')).toBeNull();
      expect(await redis.hget(previous, 'catalog:deps:product:one-epoch-old')).toBe('1');
      expect(await redis.hget(current, 'catalog:deps:product:later')).not.toBeNull();
    });
  });
});

/**
 * docs/contract.md §5.10: Redis replicates asynchronously, so each write the fence rests on waits for a replica
 * (WAIT, REDIS_CLUSTER_WAIT_REPLICAS) before it counts. An acknowledged fence survives its master's SIGKILL;
 * a write no replica acknowledged fails like any Redis error (an invalidation is then retried, a fill served
 * from the source).
 */
describe('fence protocol across a Redis Cluster master failover', () => {
  const names = new RedisNames(`failover-${randomUUID().slice(0, 8)}:`);
  let cluster: RedisCluster;
  let redis: Redis;
  let store: RedisCacheStore;

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    redis = createRedisClient(
      { kind: 'cluster', nodes: cluster.startupNodes },
      { name: 'fence-failover-test', retryDelayMs: () => 100 },
    );
    store = new RedisCacheStore(redis, names, new CircuitBreaker({ failureThreshold: 1000, cooldownMs: 100 }));
  }, 60_000);

  afterAll(async () => {
    redis.disconnect();
    await cluster.stop();
  });

  it('a dependency fence acknowledged before a SIGKILL of its master still refuses the fill it fences', async () => {
    const key = 'catalog:listing:failover';
    const dependency = 'catalog:deps:product:failover';
    const fence = (await store.acquireLease(key, 'before', 5000, true))!;
    await store.fenceDependencies('catalog', [dependency]); // the change, after the fill began
    const master = await cluster.masterOf(names.fenceSequence('catalog'));
    await cluster.kill(master);
    // The promoted replica has no replica of its own until the old master rejoins as one: until then every
    // write step fails (nothing can be made durable), which the next test shows.
    await cluster.restart(master);

    const options = { fence, token: 'before', ttlMs: 0, dependencies: [dependency] };
    // The client may need a try or two to find the promoted replica; the answer must then be "fenced".
    await eventually(
      async () => {
        await store.register(key, [dependency]);
        expect(await store.check(key, options)).toBe('fenced');
      },
      { timeoutMs: 10_000, message: 'the check on the promoted replica' },
    );
  });

  it('a fence no replica acknowledged fails, rather than counting as done', async () => {
    const master = await cluster.masterOf(names.fenceSequence('orders'));
    await cluster.kill(await cluster.replicaOf(master));
    await expect(store.fenceDependencies('orders', ['orders:deps:account:a1'])).rejects.toThrow(
      /0 of 1 replicas acknowledged/,
    );
  });
});
