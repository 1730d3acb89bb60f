import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';
import { DomainRegistry } from '../domain/domain-registry';
import { L1Cache } from '../l1/l1-cache';
import { RedisCacheStore } from '../l2/redis-cache-store';
import { BucketCounters } from '../model/bucket-counters';

const RESULTS: Record<string, keyof BucketCounters> = {
  l1_hit: 'l1Hits',
  l2_hit: 'l2Hits',
  miss: 'misses',
  coalesced: 'coalesced',
  bypass: 'bypassed',
  stale: 'stale',
};

/**
 * Exposes the cache's counters on /metrics. The hit path only bumps plain
 * numbers; they are copied into Prometheus metrics at scrape time.
 */
@Injectable()
export class CacheMetricsCollector {
  constructor(registry: Registry, domains: DomainRegistry, l1: L1Cache, store: RedisCacheStore) {
    const buckets = () => domains.buckets();
    new Counter({
      name: 'cachegate_cache_requests_total',
      help: 'Cached reads by domain, bucket and result',
      labelNames: ['domain', 'bucket', 'result'],
      registers: [registry],
      collect() {
        this.reset();
        for (const b of buckets()) {
          for (const [result, field] of Object.entries(RESULTS)) {
            this.inc({ domain: b.domain, bucket: b.name, result }, b.counters[field]);
          }
        }
      },
    });
    new Counter({
      name: 'cachegate_cache_stale_fills_discarded_total',
      help: 'Fills not written because an invalidation ran while they read the source',
      labelNames: ['domain', 'bucket'],
      registers: [registry],
      collect() {
        this.reset();
        for (const b of buckets()) this.inc({ domain: b.domain, bucket: b.name }, b.counters.staleFillsDiscarded);
      },
    });
    new Counter({
      name: 'cachegate_cache_invalidations_total',
      help: 'Keys dropped by invalidations, by domain',
      labelNames: ['domain'],
      registers: [registry],
      collect() {
        this.reset();
        for (const d of domains.all()) this.inc({ domain: d.domain }, d.invalidations);
      },
    });
    new Counter({
      name: 'cachegate_cache_redis_errors_total',
      help: 'Redis operations of the cache that failed (each one fell back to the source)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(store.errors);
      },
    });
    new Gauge({
      name: 'cachegate_cache_l1_bytes',
      help: 'Bytes held by the in-process cache',
      registers: [registry],
      collect() {
        this.set(l1.bytes);
      },
    });
  }
}
