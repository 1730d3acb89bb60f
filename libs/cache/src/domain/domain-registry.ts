import type { CacheBucket } from '../model/cache-bucket';
import type { BucketCounters } from '../model/bucket-counters';

/** The body of GET /health/<domain>/cache (docs/contract.md §4). */
export interface DomainCacheStats {
  timestamp: string;
  metrics: Record<string, BucketCounters | number>;
  ttl: Record<string, number | null>;
}

/** What the registry knows of a domain cache service (DomainCache implements it). */
export interface RegisteredDomain {
  readonly domain: string;
  readonly buckets: Readonly<Record<string, CacheBucket>>;
  /** Keys of this domain dropped by invalidations this instance has seen. */
  invalidations: number;
  stats(): DomainCacheStats;
}

/**
 * The cache domains of one application, by name: the health route and the
 * metrics read them, and invalidations seen on the channel are counted here
 * against the domain their key names.
 */
export class DomainRegistry {
  private readonly domains = new Map<string, RegisteredDomain>();

  register(domain: RegisteredDomain): void {
    if (this.domains.has(domain.domain)) throw new Error(`cache domain ${domain.domain} registered twice`);
    this.domains.set(domain.domain, domain);
  }

  get(name: string): RegisteredDomain | undefined {
    return this.domains.get(name);
  }

  all(): RegisteredDomain[] {
    return [...this.domains.values()];
  }

  /** Every bucket of every domain, for the metrics. */
  buckets(): CacheBucket[] {
    return this.all().flatMap((d) => Object.values(d.buckets));
  }

  /** Counts keys dropped anywhere (as seen on the invalidation channel) against their domain. */
  countDropped(keys: readonly string[]): void {
    for (const key of keys) {
      const domain = this.domains.get(key.slice(0, key.indexOf(':')));
      if (domain) domain.invalidations++;
    }
  }
}
