import { BucketCounters, newBucketCounters } from './bucket-counters';

/**
 * How a bucket's entries end (docs/contract.md §5.2):
 * - `cdc`: no TTL; a CDC event invalidates it (optional safety TTL for memory).
 * - `hybrid`: a short TTL and CDC.
 * - `ttl`: TTL and revalidation against a source without CDC.
 */
export type CacheStrategy = 'cdc' | 'hybrid' | 'ttl';

export interface BucketOptions<View = any> {
  strategy: CacheStrategy;
  /** Required for hybrid and ttl; for cdc an optional safety TTL (default none). */
  ttlSeconds?: number | null;
  /** ttl buckets: how long past its TTL an entry may still be served when the source fails. */
  graceSeconds?: number;
  /** Holds personal data: encrypted in Redis (docs/contract.md §5.7). */
  sensitive?: boolean;
  /** Dependency sets a view belongs to, recorded when it is filled (docs/contract.md §5.5). */
  dependencies?: (view: View) => string[];
}

export class CacheBucket<View = any> {
  readonly counters: BucketCounters = newBucketCounters();
  readonly ttlMs: number;
  /** How long Redis keeps an entry: its TTL, plus the grace period for ttl buckets. */
  readonly retentionMs: number;

  constructor(
    readonly domain: string,
    readonly name: string,
    readonly options: BucketOptions<View>,
  ) {
    const ttl = options.ttlSeconds ?? null;
    if (options.strategy !== 'cdc' && !ttl)
      throw new Error(`bucket ${domain}.${name}: ${options.strategy} needs ttlSeconds`);
    this.ttlMs = ttl ? ttl * 1000 : 0;
    this.retentionMs = this.ttlMs + (options.strategy === 'ttl' ? (options.graceSeconds ?? 0) * 1000 : 0);
  }

  get strategy(): CacheStrategy {
    return this.options.strategy;
  }

  get ttlSeconds(): number | null {
    return this.ttlMs ? this.ttlMs / 1000 : null;
  }

  get sensitive(): boolean {
    return this.options.sensitive === true;
  }

  dependenciesOf(view: View): string[] {
    return this.options.dependencies?.(view) ?? [];
  }
}
