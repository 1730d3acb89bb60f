import { TwoTierCache } from '../engine/two-tier-cache';
import { RevalidatingReads } from '../revalidation/revalidating-reads';
import { DomainRegistry } from './domain-registry';

/**
 * What a domain cache service is built on, injected as one provider so a
 * domain's constructor stays `constructor(context: DomainCacheContext)`: the
 * engine for `cdc`/`hybrid` buckets, revalidation for `ttl` buckets, and the
 * registry the domain enters itself in.
 */
export class DomainCacheContext {
  constructor(
    readonly engine: TwoTierCache,
    readonly revalidation: RevalidatingReads,
    readonly registry: DomainRegistry,
  ) {}
}
