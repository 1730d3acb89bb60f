import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import type { EnvironmentVariables } from '@app/config';
import { CACHE_REDIS, CACHE_SUBSCRIBER } from './cache.constants';
import { InvalidationBus } from './l1/invalidation-bus';
import { connectOrWarn } from './l2/redis-connection';

/** Connects the cache's Redis clients before the app listens and closes them on shutdown. */
@Injectable()
export class CacheLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Cache');

  constructor(
    private readonly config: ConfigService<EnvironmentVariables, true>,
    @Inject(CACHE_REDIS) private readonly redis: Redis,
    @Inject(CACHE_SUBSCRIBER) private readonly subscriber: Redis,
    private readonly bus: InvalidationBus,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.config.get('CACHE_ENABLED')) {
      this.logger.warn('CACHE_ENABLED=false: every read is served from the source (X-Cache: BYPASS)');
      return;
    }
    const url = this.config.get('REDIS_URL');
    await connectOrWarn(this.redis, url, this.logger);
    const subscribed = this.bus.start();
    await this.subscriber.connect().catch(() => undefined); // retried in the background; L1 stays off until then
    await subscribed;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus.stop();
    this.redis.disconnect();
  }
}
