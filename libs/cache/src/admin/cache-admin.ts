import type { InvalidationMessage } from '../l1/invalidation-bus';
import { L1Cache } from '../l1/l1-cache';
import { RedisCacheStore, UsageReport } from '../l2/redis-cache-store';

/** Operator actions on the cache by pattern: what the admin routes do. */
export class CacheAdmin {
  constructor(
    private readonly store: RedisCacheStore,
    private readonly l1: L1Cache,
    private readonly instanceId: string,
  ) {}

  /** Drops entries matching a pattern: L2 by SCAN, this L1, and every other instance's L1 through the channel. */
  async flush(pattern: string): Promise<number> {
    this.l1.deleteMatching(pattern);
    const deleted = await this.store.deleteMatching(pattern);
    const message: InvalidationMessage = { flush: pattern, origin: this.instanceId };
    await this.store.publish(message);
    return deleted;
  }

  usage(pattern: string): Promise<UsageReport> {
    return this.store.usage(pattern);
  }
}
