import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DEVELOPMENT_ENCRYPTION_KEY, EnvironmentVariables } from '@app/config';
import { isCluster, redisTopology } from '@app/redis';
import { AdminTokenGuard } from './admin/admin-token.guard';
import { CacheAdmin } from './admin/cache-admin';
import { CacheAdminController } from './admin/cache-admin.controller';
import { CacheLifecycle } from './cache-lifecycle';
import { CACHE_INSTANCE_ID, CACHE_REDIS, CACHE_SUBSCRIBER } from './cache.constants';
import { DomainCacheContext } from './domain/domain-cache-context';
import { DomainRegistry } from './domain/domain-registry';
import { SingleFlight } from './engine/single-flight';
import { TwoTierCache } from './engine/two-tier-cache';
import { CacheHealthController } from './health/cache-health.controller';
import { CacheMetricsCollector } from './health/cache-metrics.collector';
import { RedisHealthIndicator } from './health/redis.health';
import { CachedHits } from './http/cached-hits';
import { CachedReadInterceptor } from './http/cached-read.interceptor';
import { CacheSourceIdentity } from './identity/cache-source-identity';
import { InvalidationBus } from './l1/invalidation-bus';
import { L1Cache } from './l1/l1-cache';
import { CircuitBreaker } from './l2/circuit-breaker';
import { RedisCacheStore } from './l2/redis-cache-store';
import { createCacheRedis } from './l2/redis-connection';
import { RedisNames } from './l2/redis-names';
import { CacheRead } from './model/cache-read';
import { EntryCodec } from './model/entry-codec';
import { RevalidatingReads } from './revalidation/revalidating-reads';

type Config = ConfigService<EnvironmentVariables, true>;

/** In-process coalescing, one per app: the engine and revalidation share it so forgetting a key reaches both. */
const FLIGHTS = Symbol('CACHE_FLIGHTS');

/**
 * The two-tier cache for one application: Redis clients, L1, the invalidation
 * bus, the engine, its health, metrics and admin routes. Domain modules provide
 * their own DomainCache subclass, built on the DomainCacheContext provided here.
 */
@Global()
@Module({})
export class CacheModule {
  /** `http: false` (the cache-sync entry point) leaves out the health, admin and metrics routes. */
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
          useFactory: (config: Config) => createCacheRedis(redisTopology(config), 'cachegate-cache', 'commands'),
        },
        {
          provide: CACHE_SUBSCRIBER,
          inject: [ConfigService],
          useFactory: (config: Config) => createCacheRedis(redisTopology(config), 'cachegate-cache-bus', 'subscriber'),
        },
        {
          provide: RedisCacheStore,
          inject: [CACHE_REDIS, RedisNames, ConfigService],
          useFactory: (redis: Redis, names: RedisNames, config: Config) =>
            new RedisCacheStore(redis, names, new CircuitBreaker({ failureThreshold: 5, cooldownMs: 2000 }), {
              waitReplicas: config.get('REDIS_CLUSTER_WAIT_REPLICAS'),
            }),
        },
        {
          provide: L1Cache,
          inject: [ConfigService],
          useFactory: (config: Config) =>
            new L1Cache(config.get('L1_ENABLED'), config.get('L1_MAX_BYTES'), config.get('L1_MAX_STALENESS_MS')),
        },
        {
          provide: EntryCodec,
          inject: [ConfigService],
          // Production requires a key (validated at boot); elsewhere the fixed development key is used.
          useFactory: (config: Config) =>
            new EntryCodec(config.get('CACHE_ENCRYPTION_KEY') ?? DEVELOPMENT_ENCRYPTION_KEY),
        },
        {
          // Names this process in lease tokens and channel messages.
          provide: CACHE_INSTANCE_ID,
          useFactory: () => `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
        },
        { provide: FLIGHTS, useFactory: () => new SingleFlight<CacheRead>() },
        {
          provide: TwoTierCache,
          inject: [RedisCacheStore, L1Cache, EntryCodec, ConfigService, CACHE_INSTANCE_ID, FLIGHTS],
          useFactory: (
            store: RedisCacheStore,
            l1: L1Cache,
            codec: EntryCodec,
            config: Config,
            instanceId: string,
            flights: SingleFlight<CacheRead>,
          ) => new TwoTierCache(store, l1, codec, { enabled: config.get('CACHE_ENABLED'), instanceId, flights }),
        },
        {
          provide: RevalidatingReads,
          inject: [RedisCacheStore, L1Cache, EntryCodec, ConfigService, FLIGHTS],
          useFactory: (
            store: RedisCacheStore,
            l1: L1Cache,
            codec: EntryCodec,
            config: Config,
            flights: SingleFlight<CacheRead>,
          ) => new RevalidatingReads(store, l1, codec, { enabled: config.get('CACHE_ENABLED'), flights }),
        },
        { provide: DomainRegistry, useFactory: () => new DomainRegistry() },
        {
          provide: DomainCacheContext,
          inject: [TwoTierCache, RevalidatingReads, DomainRegistry],
          useFactory: (engine: TwoTierCache, revalidation: RevalidatingReads, registry: DomainRegistry) =>
            new DomainCacheContext(engine, revalidation, registry),
        },
        {
          provide: InvalidationBus,
          inject: [CACHE_SUBSCRIBER, CACHE_REDIS, RedisNames, L1Cache, TwoTierCache, DomainRegistry, CACHE_INSTANCE_ID],
          useFactory: (
            subscriber: Redis,
            commands: Redis,
            names: RedisNames,
            l1: L1Cache,
            engine: TwoTierCache,
            domains: DomainRegistry,
            instanceId: string,
          ) =>
            new InvalidationBus(subscriber, names, l1, {
              onDropped: (keys, own) => {
                // This instance's own invalidations forgot their flights already (TwoTierCache.invalidate).
                if (!own) engine.forgetFlights(keys);
                domains.countDropped(keys);
              },
              // On a cluster the subscribed node's PONG proves too little: probes go round through another node,
              // and barriers need PUBLISH's count of subscribers, which a cluster gives for one node only.
              ...(isCluster(commands)
                ? {
                    echo: {
                      publish: async (message) => {
                        await commands.publish(names.invalidationChannel, JSON.stringify(message));
                      },
                      timeoutMs: 1000,
                    },
                  }
                : { publishText: (channel, text) => commands.publish(channel, text) }),
              ownOrigin: instanceId,
            }),
        },
        {
          provide: CacheAdmin,
          inject: [RedisCacheStore, L1Cache, CACHE_INSTANCE_ID, DomainRegistry],
          useFactory: (store: RedisCacheStore, l1: L1Cache, instanceId: string, domains: DomainRegistry) =>
            new CacheAdmin(store, l1, instanceId, domains),
        },
        {
          provide: CacheSourceIdentity,
          inject: [RedisCacheStore, L1Cache, DomainRegistry, CACHE_INSTANCE_ID],
          useFactory: (store: RedisCacheStore, l1: L1Cache, registry: DomainRegistry, instanceId: string) =>
            new CacheSourceIdentity(store, l1, registry, instanceId),
        },
        CacheLifecycle,
        ...(options.http ? [CacheMetricsCollector, CachedHits] : []),
        RedisHealthIndicator,
        CachedReadInterceptor,
        AdminTokenGuard,
      ],
      exports: [
        DomainCacheContext,
        TwoTierCache,
        RedisHealthIndicator,
        CachedReadInterceptor,
        CACHE_REDIS,
        RedisCacheStore,
        CacheSourceIdentity,
        InvalidationBus,
      ],
    };
  }
}
