/**
 * Every Redis name the cache uses, all under CACHE_KEY_PREFIX so deployments
 * and test runs can share one Redis. Entries and dependency sets use the
 * logical key as is (`catalog:product:<id>`); the cache's own bookkeeping lives
 * under `cache:` (no domain may be called "cache").
 */
export class RedisNames {
  readonly entryPrefix: string;
  readonly leasePrefix: string;
  readonly fencePrefix: string;
  readonly fenceSequence: string;
  /** Markers by the Redis time they were set, so old ones can be deleted (stale-fill-guard.ts, MEMORY). */
  readonly fenceIndex: string;
  readonly freshPrefix: string;
  readonly invalidationChannel: string;
  /** The identity of the database the entries were read from (CacheSourceIdentity). */
  readonly sourceIdentity: string;

  constructor(readonly prefix: string) {
    this.entryPrefix = prefix;
    this.leasePrefix = `${prefix}cache:lease:`;
    this.fencePrefix = `${prefix}cache:fence:`;
    this.fenceSequence = `${prefix}cache:fence-seq`;
    this.fenceIndex = `${prefix}cache:fence-index`;
    this.freshPrefix = `${prefix}cache:fresh:`;
    this.invalidationChannel = `${prefix}cache:invalidations`;
    this.sourceIdentity = `${prefix}cache:db-identity`;
  }

  entry(key: string): string {
    return this.entryPrefix + key;
  }

  lease(key: string): string {
    return this.leasePrefix + key;
  }

  /** When a TTL entry was last confirmed by its source (a 304 moves this, not the entry). */
  fresh(key: string): string {
    return this.freshPrefix + key;
  }

  fence(name: string): string {
    return this.fencePrefix + name;
  }

  /** The marker fencing every key of a domain (`cache:fence:<domain>:*`), left when the whole domain is dropped. */
  domainFence(domain: string): string {
    return this.fence(`${domain}:*`);
  }

  /** The domain marker a key's fill checks: `catalog:product:<id>` → `cache:fence:catalog:*`. */
  domainFenceOf(key: string): string {
    const end = key.indexOf(':');
    return this.domainFence(end < 0 ? key : key.slice(0, end));
  }
}
