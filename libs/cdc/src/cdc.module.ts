import {
  DynamicModule,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { INestApplication } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Counter, Histogram, Registry } from 'prom-client';
import { CacheUnavailableError, RedisCacheStore } from '@app/cache';
import type { EnvironmentVariables } from '@app/config';
import { domainOfStream, parseDualPublish, streamPattern } from './cdc-event';
import { cdcRedis } from './cdc-redis';
import { CdcHealthController } from './cdc-health.controller';
import { CdcHealthService } from './cdc-health.service';
import { CdcStats } from './cdc-stats';
import { CdcHealthIndicator } from './cdc.health';
import { CDC_OPTIONS, CdcModuleOptions } from './cdc.options';
import { DeadLetters } from './dead-letters';
import { DeadLettersController } from './dead-letters.controller';
import { durationMs, OutboxRelay } from './outbox-relay';
import { RedisStreamsClient } from './redis-streams.client';
import { RedisStreamsServer } from './redis-streams.server';

type Config = ConfigService<EnvironmentVariables, true>;

/** Starts the outbox relay when CDC_RELAY is on, and stops it on shutdown. */
@Injectable()
class OutboxRelayLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly relay: OutboxRelay,
    @Inject(ConfigService) private readonly config: Config,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.get('CDC_RELAY')) this.relay.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.relay.stop();
  }
}

/** Exposes the subscriber's counters and the invalidation lag histogram on /metrics, when the app has a registry. */
@Injectable()
class CdcMetrics {
  constructor(stats: CdcStats, @Inject(Registry) registry: Registry) {
    const lag = new Histogram({
      name: 'cachegate_cdc_invalidation_lag_seconds',
      help: 'Commit (event occurredAt) to invalidation applied (L2 keys deleted)',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [registry],
    });
    stats.lagListeners.push((ms) => lag.observe(ms / 1000));
    for (const field of ['processed', 'failed', 'deadLettered', 'redelivered', 'trimmed'] as const) {
      new Counter({
        name: `cachegate_cdc_${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`,
        help: `CDC stream entries ${field} by this process's subscriber`,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(stats[field]);
        },
      });
    }
  }
}

export interface CdcModuleConfig {
  /** Stream patterns of the deployment's domains, e.g. ['cdc.catalog.v1', 'cdc.orders.v1']. */
  streams: string[];
  /** Register /health/cdc and /metrics collectors (HTTP apps). */
  http: boolean;
}

/**
 * The CDC pipeline's runtime: the outbox relay (CDC_RELAY), the stats the
 * subscriber writes, and its health. The subscriber itself is a microservice
 * transport: connect it with `connectCdcSubscriber(app)`.
 */
@Module({})
export class CdcModule {
  static forRoot(config: CdcModuleConfig): DynamicModule {
    return {
      module: CdcModule,
      global: true,
      imports: [TerminusModule],
      controllers: config.http ? [CdcHealthController, DeadLettersController] : [],
      providers: [
        CdcStats,
        {
          provide: RedisStreamsClient,
          inject: [ConfigService],
          useFactory: (c: Config) => {
            const { topology, replicas } = cdcRedis(c);
            return new RedisStreamsClient({
              redis: topology,
              replicas,
              prefix: c.get('CACHE_KEY_PREFIX'),
              maxLen: c.get('CDC_STREAM_MAXLEN'),
            });
          },
        },
        {
          provide: OutboxRelay,
          inject: [RedisStreamsClient, ConfigService],
          useFactory: (publisher: RedisStreamsClient, c: Config) =>
            new OutboxRelay(publisher, {
              databaseUrl: c.get('DATABASE_URL'),
              dualPublish: parseDualPublish(c.get('CDC_DUAL_PUBLISH')),
              retentionMs: durationMs(c.get('CDC_OUTBOX_RETENTION')),
              stallMs: c.get('CDC_RELAY_STALL_MS'),
            }),
        },
        {
          provide: CDC_OPTIONS,
          inject: [OutboxRelay, ConfigService],
          useFactory: (relay: OutboxRelay, c: Config): CdcModuleOptions => ({
            // Dual-published versions are watched too, so an unconsumed v2 shows in /health/cdc.
            streams: [
              ...new Set([
                ...config.streams,
                ...Object.entries(parseDualPublish(c.get('CDC_DUAL_PUBLISH'))).flatMap(([domain, versions]) =>
                  versions.map((v) => streamPattern(domain, v)),
                ),
              ]),
            ],
            prefix: c.get('CACHE_KEY_PREFIX'),
            relayActive: () => relay.leader,
          }),
        },
        {
          // Only the streams the domains consume (not dual-published versions nobody reads) have dead letters.
          provide: DeadLetters,
          inject: [RedisStreamsClient, ConfigService],
          useFactory: (publisher: RedisStreamsClient, c: Config) =>
            new DeadLetters(() => publisher.connect(), {
              prefix: c.get('CACHE_KEY_PREFIX'),
              streams: config.streams,
              maxLen: c.get('CDC_STREAM_MAXLEN'),
              replicas: cdcRedis(c).replicas,
            }),
        },
        OutboxRelayLifecycle,
        CdcHealthService,
        CdcHealthIndicator,
        ...(config.http ? [CdcMetrics] : []),
      ],
      exports: [CdcStats, CdcHealthIndicator, CdcHealthService, RedisStreamsClient, OutboxRelay, DeadLetters],
    };
  }
}

/**
 * Attaches the Redis Streams subscriber to an app when CDC_SUBSCRIBER is on;
 * the domain modules' @EventPattern handlers become its handlers. Call before
 * `startAllMicroservices()` / `listen()`.
 */
export function connectCdcSubscriber(app: INestApplication): RedisStreamsServer | undefined {
  const config = app.get<Config>(ConfigService);
  if (!config.get('CDC_SUBSCRIBER')) return undefined;
  const store = app.get(RedisCacheStore);
  const prefix = config.get('CACHE_KEY_PREFIX');
  // Events lost to MAXLEN: their views cannot be found one by one, so the domain goes whole (as for TRUNCATE).
  const eventsLost = async (stream: string) => {
    const domain = domainOfStream(stream.slice(prefix.length));
    if (domain) await store.invalidateAll(domain, `cdc-trimmed:${config.get('CDC_CONSUMER_NAME')}`);
  };
  // A Redis failure is never the entry's fault: not only while the breaker is open, but also one that failed a
  // single step (on a cluster, a master with no replica to WAIT for), it is retried in place, never dead-lettered.
  const cacheUnavailable = (err: unknown) => !store.available || err instanceof CacheUnavailableError;
  const server = createCdcServer(config, app.get(CdcStats), cacheUnavailable, eventsLost);
  // Not the HTTP app's global pipes and filters: an HTTP exception filter cannot answer an event (in the BFF
  // it turned every handler error into "reply.status is not a function", logged as an HTTP 500).
  app.connectMicroservice({ strategy: server }, { inheritAppConfig: false });
  return server;
}

/** `cacheUnavailable`: whether the cache's Redis cannot be used right now (down, or its circuit breaker open). */
export function createCdcServer(
  config: Config,
  stats: CdcStats,
  cacheUnavailable?: (err: unknown) => boolean,
  eventsLost?: (stream: string) => Promise<void>,
): RedisStreamsServer {
  const { topology, replicas } = cdcRedis(config);
  return new RedisStreamsServer(
    {
      redis: topology,
      replicas,
      prefix: config.get('CACHE_KEY_PREFIX'),
      consumer: config.get('CDC_CONSUMER_NAME'),
      claimIdleMs: config.get('CDC_CLAIM_IDLE_MS'),
      maxDeliveries: config.get('CDC_MAX_DELIVERIES'),
      // A handler that failed while the cache could not be used is retried until it applies, never dead-lettered.
      dependencyUnavailable: cacheUnavailable,
      eventsLost,
    },
    stats,
  );
}
