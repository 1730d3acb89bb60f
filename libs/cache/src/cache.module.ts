import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DEVELOPMENT_ENCRYPTION_KEY, EnvironmentVariables } from '@app/config';
import { CacheAdminController, AdminTokenGuard } from './cache-admin.controller';
import { CacheHealthController } from './cache-health.controller';
import { CacheLifecycle } from './cache-lifecycle';
import { CacheMetricsCollector } from './cache-metrics.collector';
import { CACHE_REDIS, CACHE_SUBSCRIBER } from './cache.constants';
import { CircuitBreaker } from './circuit-breaker';
import { EntryCodec } from './entry-codec';
import { CachedHits, CachedReadInterceptor } from './http/cached-read';
import { InvalidationBus } from './invalidation-bus';
import { L1Cache } from './l1-cache';
import { RedisCacheStore } from './redis-cache-store';
import { createCacheRedis } from './redis-connection';
import { RedisNames } from './redis-names';
import { RedisHealthIndicator } from './redis.health';
import { TwoTierCache } from './two-tier-cache';

type Config = ConfigService<EnvironmentVariables, true>;

/**
 * The two-tier cache for one application: Redis clients, L1, the invalidation
 * bus, the engine, its health, metrics and admin routes. Domain modules provide
 * their own DomainCache subclass and inject TwoTierCache into it.
 */
@Global()
@Module({})
export class CacheModule {
  /** `http: false` (apps/cache-sync) leaves out the health, admin and metrics routes. */
  static forRoot(options: { http: boolean } = { http: true }): DynamicModule {
    return {
      module: CacheModule,
      imports: [TerminusModule, DiscoveryModule],
      controllers: options.http ? [CacheHealthController, CacheAdminController] : [],
      providers: [
        {
          provide: RedisNames,
          inject: [ConfigService],
          useFactory: (config: Config) => new RedisNames(config.get('CACHE_KEY_PREFIX')),
        },
        {
          provide: CACHE_REDIS,
          inject: [ConfigService],
          useFactory: (config: Config) => createCacheRedis(config.get('REDIS_URL'), 'cachegate-cache', 'commands'),
        },
        {
          provide: CACHE_SUBSCRIBER,
          inject: [ConfigService],
          useFactory: (config: Config) =>
            createCacheRedis(config.get('REDIS_URL'), 'cachegate-cache-bus', 'subscriber'),
        },
        {
          provide: RedisCacheStore,
          inject: [CACHE_REDIS, RedisNames],
          useFactory: (redis: Redis, names: RedisNames) =>
            new RedisCacheStore(redis, names, new CircuitBreaker({ failureThreshold: 5, cooldownMs: 2000 })),
        },
        {
          provide: L1Cache,
          inject: [ConfigService],
          useFactory: (config: Config) => new L1Cache(config.get('L1_ENABLED'), config.get('L1_MAX_BYTES')),
        },
        {
          provide: EntryCodec,
          inject: [ConfigService],
          // Production requires a key (validated at boot); elsewhere the fixed development key is used.
          useFactory: (config: Config) =>
            new EntryCodec(config.get('CACHE_ENCRYPTION_KEY') ?? DEVELOPMENT_ENCRYPTION_KEY),
        },
        {
          provide: TwoTierCache,
          inject: [RedisCacheStore, L1Cache, EntryCodec, ConfigService],
          useFactory: (store: RedisCacheStore, l1: L1Cache, codec: EntryCodec, config: Config) =>
            new TwoTierCache(store, l1, codec, {
              enabled: config.get('CACHE_ENABLED'),
              instanceId: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
            }),
        },
        {
          provide: InvalidationBus,
          inject: [CACHE_SUBSCRIBER, RedisNames, L1Cache, TwoTierCache],
          useFactory: (subscriber: Redis, names: RedisNames, l1: L1Cache, cache: TwoTierCache) =>
            new InvalidationBus(subscriber, names, l1, (keys) => cache.countInvalidated(keys)),
        },
        CacheLifecycle,
        ...(options.http ? [CacheMetricsCollector, CachedHits] : []),
        RedisHealthIndicator,
        CachedReadInterceptor,
        AdminTokenGuard,
      ],
      exports: [TwoTierCache, RedisHealthIndicator, CachedReadInterceptor, CACHE_REDIS],
    };
  }
}
