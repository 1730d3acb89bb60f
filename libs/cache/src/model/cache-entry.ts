/** What a cache entry holds: the serialised body exactly as sent, and facts fixed when it was filled. */
export interface CacheEntry {
  body: Buffer;
  etag: string;
  /** Epoch ms when the entry was filled (or last revalidated). */
  storedAt: number;
  /** Upstream validator for TTL buckets that revalidate with If-None-Match. */
  upstreamEtag?: string;
}
