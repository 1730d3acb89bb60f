import { Logger } from '@nestjs/common';
import Redis from 'ioredis';

/**
 * A Redis client for the cache: commands fail at once while disconnected (no
 * offline queue) and time out quickly, so a dead or hung Redis turns into a
 * bypass rather than a slow request; it reconnects forever with back-off.
 */
export function createCacheRedis(url: string, name: string, role: 'commands' | 'subscriber'): Redis {
  return new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    // The invalidation bus subscribes itself on every 'ready'; ioredis's own resubscribe would race it
    // and, with no offline queue, reject unhandled when the connection drops again.
    autoResubscribe: false,
    // Commands issued in the same tick go out as one write: under load, many L2 hits share a syscall.
    // Not for the subscriber connection, which only (re)subscribes.
    enableAutoPipelining: role === 'commands',
  });
}

/**
 * Connects at boot. Redis being down is not fatal (reads bypass the cache until
 * it is back), so this logs the one line an operator needs and returns.
 */
export async function connectOrWarn(redis: Redis, url: string, logger: Logger): Promise<void> {
  redis.on('error', () => undefined); // reported through status and the health indicator, not as crashes
  try {
    await redis.connect();
  } catch (err) {
    const { host, port } = new URL(url);
    logger.warn(
      `Redis is unreachable at ${host}:${port || 6379} (${(err as Error).message}); serving from the source ` +
        '(X-Cache: BYPASS) until it is back. Start it with `redis-server --daemonize yes` ' +
        'or `docker compose up -d redis`, or set REDIS_URL.',
    );
  }
}
