import type { InvalidationMessage } from '../l1/invalidation-bus';
import { L1Cache } from '../l1/l1-cache';
import { RedisCacheStore, UsageReport } from '../l2/redis-cache-store';
import { adminPatternProblem } from '../model/cache-key';
import { DomainRegistry } from '../domain/domain-registry';

/** An admin pattern that is refused (adminPatternProblem): the route answers 400 and nothing is touched. */
export class InvalidAdminPatternError extends Error {
  override readonly name = 'InvalidAdminPatternError';
}

/** Operator actions on the cache by pattern: what the admin routes do. */
export class CacheAdmin {
  constructor(
    private readonly store: RedisCacheStore,
    private readonly l1: L1Cache,
    private readonly instanceId: string,
    /** This deployment's cache domains: a pattern must start with one of them. */
    private readonly domains: DomainRegistry,
  ) {}

  /** Throws InvalidAdminPatternError, saying why, unless the pattern may be used (adminPatternProblem). */
  check(pattern: string): void {
    const problem = adminPatternProblem(
      pattern,
      this.domains.all().map((d) => d.domain),
    );
    if (problem !== undefined) throw new InvalidAdminPatternError(problem);
  }

  /**
   * Drops entries matching a pattern everywhere, in this order:
   * 1. `{flush}` on the channel: every instance drops matches from its L1 at
   *    once, not after this one's SCAN of L2 (which walks the whole keyspace);
   * 2. L2, by SCAN + UNLINK (entries only; RedisCacheStore.deleteMatching);
   * 3. `{flush}` again: an instance that read an entry from L2 between 1 and
   *    its UNLINK copied it into L1, where nothing else would drop it;
   * 4. this instance's L1, last, so that this instance's own matching never
   *    holds up the others (the channel's echoes do it too, later; this gives
   *    read-your-writes before the response).
   */
  async flush(pattern: string): Promise<number> {
    this.check(pattern);
    const message: InvalidationMessage = { flush: pattern, origin: this.instanceId };
    await this.store.publish(message);
    const deleted = await this.store.deleteMatching(pattern);
    await this.store.publish(message);
    this.l1.deleteMatching(pattern);
    return deleted;
  }

  async usage(pattern: string): Promise<UsageReport> {
    this.check(pattern);
    return this.store.usage(pattern);
  }
}
