import { Logger } from '@nestjs/common';
import { CacheBucket, BucketOptions } from './cache-bucket';
import { CacheUnavailableError } from './cache-errors';
import { BucketCounters } from './cache-metrics';
import { UpstreamFetch } from './revalidating-reads';
import { CacheRead, TwoTierCache } from './two-tier-cache';
import { CacheEntry } from './entry-codec';

/** The body of GET /health/<domain>/cache (SPEC §4). */
export interface DomainCacheStats {
  timestamp: string;
  metrics: Record<string, BucketCounters | number>;
  ttl: Record<string, number | null>;
}

/**
 * The reusable base of every domain cache service (CatalogCacheService, …):
 * a domain declares its buckets once, and reads, invalidations and stats go
 * through here. Keys are built by the domain's `<domain>.keys.ts`.
 */
export abstract class DomainCache<Buckets extends string = string> {
  readonly buckets: Record<Buckets, CacheBucket>;
  /** Keys of this domain dropped by invalidations this instance has seen. */
  invalidations = 0;

  protected constructor(
    readonly cache: TwoTierCache,
    readonly domain: string,
    definitions: Record<Buckets, BucketOptions>,
  ) {
    this.buckets = Object.fromEntries(
      Object.entries<BucketOptions>(definitions).map(([name, options]) => [
        name,
        new CacheBucket(domain, name, options),
      ]),
    ) as Record<Buckets, CacheBucket>;
    cache.registerDomain(this);
  }

  /** An L1 hit, synchronously. */
  peek(bucket: Buckets, key: string): CacheEntry | undefined {
    return this.cache.peek(this.buckets[bucket], key);
  }

  /** An L2 hit (copied into L1), or undefined; never reads the source. */
  lookup(bucket: Buckets, key: string): Promise<CacheEntry | undefined> {
    return this.cache.lookup(this.buckets[bucket], key);
  }

  read<View>(bucket: Buckets, key: string, load: () => Promise<View>): Promise<CacheRead> {
    return this.cache.read(this.buckets[bucket], key, load);
  }

  /** Reads a `ttl` bucket through conditional requests to its source (SPEC §3 "Invoices"). */
  readRevalidating<View>(bucket: Buckets, key: string, fetch: UpstreamFetch<View>): Promise<CacheRead> {
    return this.cache.readRevalidating(this.buckets[bucket], key, fetch);
  }

  /** Drops keys and the views recorded under the dependencies, on every instance. */
  invalidate(keys: readonly string[], dependencies: readonly string[] = []): Promise<string[]> {
    return this.cache.invalidate(keys, dependencies);
  }

  /**
   * For writers, which must not fail because Redis is down: the failure is
   * logged and the entries live on until the next change or a flush.
   */
  protected async invalidateOrWarn(keys: readonly string[], dependencies: readonly string[] = []): Promise<void> {
    try {
      await this.invalidate(keys, dependencies);
    } catch (err) {
      if (!(err instanceof CacheUnavailableError)) throw err;
      new Logger(`${this.domain}Cache`).warn(
        `invalidation not applied (${err.message}): ${keys.join(' ')} ${dependencies.join(' ')}`,
      );
    }
  }

  stats(): DomainCacheStats {
    const metrics: Record<string, BucketCounters | number> = {};
    const ttl: Record<string, number | null> = {};
    for (const bucket of Object.values<CacheBucket>(this.buckets)) {
      metrics[bucket.name] = { ...bucket.counters };
      ttl[`${bucket.name}Seconds`] = bucket.ttlSeconds;
    }
    metrics.invalidations = this.invalidations;
    return { timestamp: new Date().toISOString(), metrics, ttl };
  }
}
