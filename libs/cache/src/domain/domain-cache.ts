import { Logger } from '@nestjs/common';
import { CacheBucket, BucketOptions } from '../model/cache-bucket';
import { BucketCounters } from '../model/bucket-counters';
import { CacheEntry } from '../model/cache-entry';
import { CacheUnavailableError } from '../model/cache-errors';
import { CacheRead } from '../model/cache-read';
import type { UpstreamFetch } from '../revalidation/revalidating-reads';
import { DomainCacheContext } from './domain-cache-context';
import { DomainCacheStats, RegisteredDomain } from './domain-registry';

/** What one change makes stale: keys, views recorded under dependency sets, or (`all`) every view of the domain. */
export interface Invalidation {
  keys: readonly string[];
  dependencies?: readonly string[];
  /** Every view of the domain is stale (a TRUNCATE). */
  all?: boolean;
}

/**
 * The reusable base of every domain cache service (CatalogCacheService, …):
 * a domain declares its buckets once, and reads, invalidations and stats go
 * through here. Keys are built by the domain's `<domain>.keys.ts`.
 *
 * A bucket's strategy decides its read path: `cdc` and `hybrid` buckets are
 * read with `read` (get-or-fill, fenced against invalidations), `ttl` buckets
 * with `readRevalidating` (conditional reads of a source without CDC). Mixing
 * them up is a programming error and throws.
 */
export abstract class DomainCache<Buckets extends string = string> implements RegisteredDomain {
  readonly buckets: Record<Buckets, CacheBucket>;
  invalidations = 0;

  protected constructor(
    private readonly context: DomainCacheContext,
    readonly domain: string,
    definitions: Record<Buckets, BucketOptions>,
  ) {
    this.buckets = Object.fromEntries(
      Object.entries<BucketOptions>(definitions).map(([name, options]) => [
        name,
        new CacheBucket(domain, name, options),
      ]),
    ) as Record<Buckets, CacheBucket>;
    context.registry.register(this);
  }

  /** An L1 hit, synchronously (cdc and hybrid buckets). */
  peek(bucket: Buckets, key: string): CacheEntry | undefined {
    return this.context.engine.peek(this.filled(bucket), key);
  }

  /** An L2 hit (copied into L1), null when L2 has no entry, else undefined; never reads the source (cdc and hybrid buckets). */
  lookup(bucket: Buckets, key: string): Promise<CacheEntry | null | undefined> {
    return this.context.engine.lookup(this.filled(bucket), key);
  }

  /**
   * Get-or-fill (cdc and hybrid buckets): `load` reads the source on a miss. `afterL2Miss`: `lookup` has just
   * answered null for this key, so L2 is not asked again (TwoTierCache.read).
   */
  read<View>(bucket: Buckets, key: string, load: () => Promise<View>, afterL2Miss = false): Promise<CacheRead> {
    return this.context.engine.read(this.filled(bucket), key, load, afterL2Miss);
  }

  /** Reads a `ttl` bucket through conditional requests to its source (docs/contract.md §3 "Invoices"). */
  readRevalidating<View>(bucket: Buckets, key: string, fetch: UpstreamFetch<View>): Promise<CacheRead> {
    const b = this.buckets[bucket];
    if (b.strategy !== 'ttl') throw new Error(`${this.domain}.${bucket} is a ${b.strategy} bucket: use read()`);
    return this.context.revalidation.read(b, key, fetch);
  }

  /** Drops keys and the views recorded under the dependencies, on every instance. */
  invalidate(keys: readonly string[], dependencies: readonly string[] = []): Promise<string[]> {
    return this.context.engine.invalidate(keys, dependencies);
  }

  /**
   * Applies what a batch of changes makes stale as one invalidation (a CDC
   * handler's batch, docs/contract.md §6.3): every key and dependency set of all of them,
   * each once, in as few script calls as the store's bound on names per call
   * allows (RedisCacheStore), after dropping the whole domain when any of them
   * says `all`. Throws when Redis cannot be reached; applying it again is
   * harmless.
   */
  async invalidateBatch(invalidations: readonly Invalidation[]): Promise<void> {
    const keys = new Set<string>();
    const dependencies = new Set<string>();
    let all = false;
    for (const invalidation of invalidations) {
      for (const key of invalidation.keys) keys.add(key);
      for (const dependency of invalidation.dependencies ?? []) dependencies.add(dependency);
      all ||= invalidation.all === true;
    }
    if (all) await this.invalidateAll();
    await this.invalidate([...keys], [...dependencies]);
  }

  /**
   * Drops every view of this domain, on every instance (L2 by SCAN, fenced
   * against fills in flight; every L1 through the channel): for changes that
   * name no keys, such as a TRUNCATE. Throws when Redis cannot be reached.
   */
  invalidateAll(): Promise<number> {
    return this.context.engine.invalidateAll(this.domain);
  }

  /**
   * For writers of ttl domains (no CDC), which must not fail because Redis is
   * down: the failure is logged and the entries live on until their TTL.
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

  private filled(bucket: Buckets): CacheBucket {
    const b = this.buckets[bucket];
    if (b.strategy === 'ttl') throw new Error(`${this.domain}.${bucket} is a ttl bucket: use readRevalidating()`);
    return b;
  }
}
