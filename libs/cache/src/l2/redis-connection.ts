import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { createRedisClient, describeTopology, RedisTopology } from '@app/redis';

/**
 * A Redis client for the cache: commands fail at once while disconnected (no
 * offline queue) and time out quickly, so a dead or hung Redis turns into a
 * bypass rather than a slow request; it reconnects forever with back-off. On a
 * cluster the commands client is an ioredis Cluster; the subscriber is a plain
 * connection to one node (classic pub/sub reaches every node of a cluster),
 * whose channel the invalidation bus confirms end to end (InvalidationBus).
 */
export function createCacheRedis(topology: RedisTopology, name: string, role: 'commands' | 'subscriber'): Redis {
  const rotation = topology.kind === 'cluster' && role === 'subscriber' ? new NodeRotation(topology.nodes) : undefined;
  const client = createRedisClient(rotation ? { kind: 'single', url: rotation.url() } : topology, {
    name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 2000,
    retryDelayMs: (attempt) => {
      // A lost subscription on a cluster tries the next listed node: the one it was on may be gone for good.
      if (rotation) Object.assign(client.options, rotation.next());
      return Math.min(attempt * 100, 2000);
    },
    // The invalidation bus subscribes itself on every 'ready'; ioredis's own resubscribe would race it
    // and, with no offline queue, reject unhandled when the connection drops again.
    autoResubscribe: false,
    // No auto-pipelining: each batch built an ioredis Pipeline (which copies every defined script onto itself)
    // and waited for a setImmediate, so each sequential step of a miss paid a loop turn for a batch of one or
    // two. Without it a miss cost 0.91x the CPU at 1.5x the rate, and L2 hits at 50 connections no more
    // (docs/BENCHMARKS.md, "The miss path").
    enableAutoPipelining: false,
  });
  return client;
}

/**
 * The cluster nodes the subscriber takes turns on, from a random one (instances spread over the nodes they
 * list). ioredis reconnects to `options.host/port` as they are at that moment, so moving them in the retry
 * strategy moves the next attempt.
 */
class NodeRotation {
  private at: number;

  constructor(private readonly nodes: { host: string; port: number }[]) {
    this.at = Math.floor(Math.random() * nodes.length);
  }

  url(): string {
    const { host, port } = this.nodes[this.at];
    return `redis://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  next(): { host: string; port: number } {
    this.at = (this.at + 1) % this.nodes.length;
    return this.nodes[this.at];
  }
}

/**
 * Connects at boot. Redis being down is not fatal (reads bypass the cache until
 * it is back), so this logs the one line an operator needs and returns.
 */
export async function connectOrWarn(redis: Redis, topology: RedisTopology, logger: Logger): Promise<void> {
  redis.on('error', () => undefined); // reported through status and the health indicator, not as crashes
  try {
    await redis.connect();
  } catch (err) {
    logger.warn(
      `Redis is unreachable at ${describeTopology(topology)} (${(err as Error).message}); serving from the ` +
        'source (X-Cache: BYPASS) until it is back. Start it with `redis-server --daemonize yes` ' +
        'or `docker compose up -d redis`, or set REDIS_URL (or REDIS_CLUSTER_NODES).',
    );
  }
}
