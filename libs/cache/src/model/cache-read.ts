import type { CacheEntry } from './cache-entry';

/** How a cached read was answered; sent as `X-Cache`. */
export type CacheStatus = 'HIT-L1' | 'HIT-L2' | 'MISS' | 'STALE' | 'BYPASS';

export interface CacheRead {
  entry: CacheEntry;
  status: CacheStatus;
}
