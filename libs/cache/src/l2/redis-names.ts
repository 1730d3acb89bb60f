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
  readonly freshPrefix: string;
  readonly invalidationChannel: string;

  constructor(readonly prefix: string) {
    this.entryPrefix = prefix;
    this.leasePrefix = `${prefix}cache:lease:`;
    this.fencePrefix = `${prefix}cache:fence:`;
    this.fenceSequence = `${prefix}cache:fence-seq`;
    this.freshPrefix = `${prefix}cache:fresh:`;
    this.invalidationChannel = `${prefix}cache:invalidations`;
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
}
