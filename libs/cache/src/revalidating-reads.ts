import { CacheBucket } from './cache-bucket';
import { CacheUnavailableError } from './cache-errors';
import { CacheEntry, EntryCodec } from './entry-codec';
import { L1Cache } from './l1-cache';
import { RedisCacheStore } from './redis-cache-store';
import { serializeView } from './representation';
import { computeEtag } from './etag';
import { SingleFlight } from './single-flight';
import type { CacheRead } from './two-tier-cache';

/** What a source without CDC answers to a conditional read. */
export type UpstreamResult<View> = { status: 'not-modified' } | { status: 'ok'; view: View; upstreamEtag?: string };

/** Reads the source; with `upstreamEtag` it is a conditional read (If-None-Match). Throws when the source fails. */
export type UpstreamFetch<View> = (upstreamEtag: string | undefined) => Promise<UpstreamResult<View>>;

/**
 * Reads of `ttl` buckets (SPEC §3 "Invoices", §5.2): sources without CDC. An
 * entry is fresh for the bucket's TTL. Past it, the source is asked with the
 * stored upstream ETag: a 304 only moves the entry's confirmation time (the
 * body is neither transferred nor stored again), a 200 replaces it. If the
 * source fails, the expired entry is still served while it is within the
 * grace period (`STALE`); Redis drops it after TTL + grace, and then a failing
 * source is the caller's error.
 */
export class RevalidatingReads {
  private readonly flights = new SingleFlight<CacheRead>();

  constructor(
    private readonly store: RedisCacheStore,
    private readonly l1: L1Cache,
    private readonly codec: EntryCodec,
    private readonly enabled: () => boolean,
  ) {}

  async read<View>(bucket: CacheBucket<View>, key: string, fetch: UpstreamFetch<View>): Promise<CacheRead> {
    if (!this.enabled() || !this.store.available) {
      bucket.counters.bypassed++;
      return { entry: this.entryOf(await this.fetchFull(fetch)), status: 'BYPASS' };
    }
    const local = this.l1.get(key);
    if (local && this.isFresh(bucket, local)) {
      bucket.counters.hits++;
      bucket.counters.l1Hits++;
      return { entry: local, status: 'HIT-L1' };
    }
    const flight = this.flights.run(key, () => this.readThrough(bucket, key, fetch, local));
    if (flight.joined) bucket.counters.coalesced++;
    return flight.promise;
  }

  private async readThrough<View>(
    bucket: CacheBucket<View>,
    key: string,
    fetch: UpstreamFetch<View>,
    local: CacheEntry | undefined,
  ): Promise<CacheRead> {
    let cached = local;
    try {
      if (!cached) {
        const { value, confirmedAt } = await this.store.getRevalidated(key);
        const decoded = value ? this.codec.decode(value) : undefined;
        cached =
          decoded && confirmedAt && confirmedAt > decoded.storedAt ? { ...decoded, storedAt: confirmedAt } : decoded;
      }
      if (cached && this.isFresh(bucket, cached)) {
        bucket.counters.hits++;
        bucket.counters.l2Hits++;
        this.l1.commit(this.l1.begin(key), cached, this.remaining(bucket, cached));
        return { entry: cached, status: 'HIT-L2' };
      }
      return cached ? await this.revalidate(bucket, key, fetch, cached) : await this.fill(bucket, key, fetch);
    } catch (err) {
      if (!(err instanceof CacheUnavailableError)) throw err;
      bucket.counters.bypassed++;
      return { entry: this.entryOf(await this.fetchFull(fetch)), status: 'BYPASS' };
    }
  }

  private async revalidate<View>(
    bucket: CacheBucket<View>,
    key: string,
    fetch: UpstreamFetch<View>,
    cached: CacheEntry,
  ) {
    let result: UpstreamResult<View>;
    try {
      result = await fetch(cached.upstreamEtag);
    } catch (err) {
      if (Date.now() - cached.storedAt > bucket.retentionMs) throw err;
      bucket.counters.stale++;
      return { entry: cached, status: 'STALE' as const };
    }
    if (result.status === 'not-modified') {
      bucket.counters.revalidatedNotModified++;
      const confirmed = { ...cached, storedAt: Date.now() };
      await this.store.confirm(key, confirmed.storedAt, bucket.retentionMs);
      this.l1.commit(this.l1.begin(key), confirmed, this.remaining(bucket, confirmed));
      return { entry: confirmed, status: 'HIT-L2' as const };
    }
    bucket.counters.revalidatedModified++;
    return this.keep(bucket, key, this.entryOf(result));
  }

  private async fill<View>(bucket: CacheBucket<View>, key: string, fetch: UpstreamFetch<View>): Promise<CacheRead> {
    const entry = this.entryOf(await this.fetchFull(fetch));
    bucket.counters.misses++;
    return this.keep(bucket, key, entry);
  }

  private async keep(bucket: CacheBucket, key: string, entry: CacheEntry): Promise<CacheRead> {
    await this.store.put(key, this.codec.encode(entry, bucket.sensitive), bucket.retentionMs);
    this.l1.commit(this.l1.begin(key), entry, this.remaining(bucket, entry));
    return { entry, status: 'MISS' };
  }

  private async fetchFull<View>(fetch: UpstreamFetch<View>): Promise<{ view: View; upstreamEtag?: string }> {
    const result = await fetch(undefined);
    if (result.status !== 'ok') throw new Error('source answered 304 to an unconditional read');
    return result;
  }

  private entryOf(result: { view: unknown; upstreamEtag?: string }): CacheEntry {
    const body = serializeView(result.view);
    return { body, etag: computeEtag(body), storedAt: Date.now(), upstreamEtag: result.upstreamEtag };
  }

  private isFresh(bucket: CacheBucket, entry: CacheEntry): boolean {
    return Date.now() - entry.storedAt <= bucket.ttlMs;
  }

  /** L1 keeps an entry only while it is fresh; after that every read goes through revalidation. */
  private remaining(bucket: CacheBucket, entry: CacheEntry): number {
    return Math.max(1, bucket.ttlMs - (Date.now() - entry.storedAt));
  }
}
