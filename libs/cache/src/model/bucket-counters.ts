/** Counters of one bucket, in the shape of docs/contract.md §4's /health/<domain>/cache. */
export interface BucketCounters {
  hits: number;
  misses: number;
  l1Hits: number;
  l2Hits: number;
  /** Misses served by another caller's source read (same process or another instance). */
  coalesced: number;
  /** Fills not written because an invalidation ran while they read the source (docs/contract.md §5.4). */
  staleFillsDiscarded: number;
  /** Reads served from the source without the cache (disabled, or Redis unreachable). */
  bypassed: number;
  /** TTL buckets: expired entries served within grace because the source failed. */
  stale: number;
  /** TTL buckets: expired entries the source confirmed unchanged (304: body neither sent nor stored again). */
  revalidatedNotModified: number;
  /** TTL buckets: expired entries the source replaced (200). */
  revalidatedModified: number;
}

export function newBucketCounters(): BucketCounters {
  return {
    hits: 0,
    misses: 0,
    l1Hits: 0,
    l2Hits: 0,
    coalesced: 0,
    staleFillsDiscarded: 0,
    bypassed: 0,
    stale: 0,
    revalidatedNotModified: 0,
    revalidatedModified: 0,
  };
}
