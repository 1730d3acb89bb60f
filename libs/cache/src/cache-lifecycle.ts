import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import { EnvironmentVariables, UnsupportedSetupError } from '@app/config';
import { CACHE_REDIS, CACHE_SUBSCRIBER } from './cache.constants';
import { InvalidationBus } from './l1/invalidation-bus';
import { RedisCacheStore } from './l2/redis-cache-store';
import { redisTopology } from '@app/redis';
import { connectOrWarn } from './l2/redis-connection';

/** How often a running instance re-reads the eviction policy (an operator may CONFIG SET it at any time). */
const POLICY_CHECK_MS = 10_000;

/**
 * Connects the cache's Redis clients before the app listens and closes them on
 * shutdown. Refuses to boot on a Redis whose eviction policy could make views
 * stale, and stops using L2 (bypass) if one shows up later.
 */
@Injectable()
export class CacheLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Cache');

  constructor(
    private readonly config: ConfigService<EnvironmentVariables, true>,
    @Inject(CACHE_REDIS) private readonly redis: Redis,
    @Inject(CACHE_SUBSCRIBER) private readonly subscriber: Redis,
    private readonly bus: InvalidationBus,
    private readonly store: RedisCacheStore,
  ) {}

  private policyTimer?: NodeJS.Timeout;

  async onModuleInit(): Promise<void> {
    if (!this.config.get('CACHE_ENABLED')) {
      this.logger.warn('CACHE_ENABLED=false: every read is served from the source (X-Cache: BYPASS)');
      return;
    }
    await connectOrWarn(this.redis, redisTopology(this.config), this.logger);
    if (this.redis.status === 'ready') {
      const problem = await this.store.checkEvictionPolicy().catch(() => undefined);
      if (problem) throw new UnsupportedSetupError(problem);
    }
    this.redis.on('ready', () => void this.recheckPolicy());
    this.policyTimer = setInterval(() => void this.recheckPolicy(), POLICY_CHECK_MS).unref();
    const subscribed = this.bus.start();
    await this.subscriber.connect().catch(() => undefined); // retried in the background; L1 stays off until then
    await subscribed;
  }

  private async recheckPolicy(): Promise<void> {
    const before = this.store.unsupportedSetup;
    const problem = await this.store.checkEvictionPolicy().catch(() => before);
    if (problem && !before) this.logger.error(`${problem}; serving from the source until it is changed`);
    if (!problem && before) this.logger.log('Redis eviction policy supported again: using the cache');
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.policyTimer);
    await this.bus.stop();
    this.redis.disconnect();
  }
}
