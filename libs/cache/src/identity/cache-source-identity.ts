import { Logger } from '@nestjs/common';
import { DomainRegistry } from '../domain/domain-registry';
import { L1Cache } from '../l1/l1-cache';
import { RedisCacheStore } from '../l2/redis-cache-store';

/** What a reconcile did: nothing, recorded a first identity (no entries existed), or dropped the cache. */
export type SourceIdentityOutcome = 'unchanged' | 'recorded' | 'reset';

/**
 * Ties the entries under this deployment's prefix to one incarnation of their
 * source (docs/contract.md §5.9). The application reads its source's identity (the BFF:
 * apps/bff/src/database-identity.ts) and hands it to `reconcile`, which
 * compares it with the identity recorded in Redis (`<prefix>cache:db-identity`)
 * when the entries were filled. When it differs, or none is recorded while
 * entries exist, every domain of this application is dropped as
 * DomainCache.invalidateAll drops one (fenced, SCAN + UNLINK of entries,
 * dependency sets, leases; stale-fill-guard.ts), every instance's L1 is
 * flushed (`{flush: '*'}` on the channel), and the new identity is recorded,
 * last: a reconcile cut short by Redis is simply done again by the next one.
 *
 * The domains are this application's (DomainRegistry), never a blind SCAN of
 * the prefix: the prefix also holds the CDC streams, the fence sequence and
 * markers (which must survive, stale-fill-guard.ts), and with an empty
 * CACHE_KEY_PREFIX it is all of a Redis that other programs may share.
 *
 * Two deployments on different databases must not share one prefix: each
 * would see the other's identity and drop the cache every check.
 */
export class CacheSourceIdentity {
  private readonly logger = new Logger('CacheSourceIdentity');

  constructor(
    private readonly store: RedisCacheStore,
    private readonly l1: L1Cache,
    private readonly registry: DomainRegistry,
    private readonly instanceId: string,
  ) {}

  /** Throws CacheUnavailableError when Redis cannot be reached (nothing recorded then: call again). */
  async reconcile(identity: string): Promise<SourceIdentityOutcome> {
    const recorded = await this.store.recordedSourceIdentity();
    if (recorded === identity) return 'unchanged';
    const domains = this.registry.all().map((d) => d.domain);
    this.l1.clear();
    const dropped = await this.store.dropDomains(domains, '*', this.instanceId);
    // Anything read from L2 while it was being emptied goes too (the channel's echo does the same, later).
    this.l1.clear();
    await this.store.recordSourceIdentity(identity);
    if (recorded === null && dropped === 0) return 'recorded';
    this.logger.warn(
      `${recorded === null ? 'no source identity recorded in Redis' : `source identity changed from ${recorded}`} ` +
        `(now ${identity}): dropped ${dropped} cache entries and dependency sets of ${domains.join(', ')} ` +
        'and flushed L1 on every instance',
    );
    return 'reset';
  }
}
