import { SingleFlight } from '../engine/single-flight';
import { L1Cache, ReadTicket } from '../l1/l1-cache';
import { CacheBucket } from '../model/cache-bucket';
import { CacheEntry } from '../model/cache-entry';
import { CacheUnavailableError } from '../model/cache-errors';
import { CacheRead } from '../model/cache-read';
import { Clock, systemClock } from '../model/clock';
import { EntryCodec } from '../model/entry-codec';
import { toEntry } from '../model/representation';

/** What a source without CDC answers to a conditional read. */
export type UpstreamResult<View> = { status: 'not-modified' } | { status: 'ok'; view: View; upstreamEtag?: string };

/** Reads the source; with `upstreamEtag` it is a conditional read (If-None-Match). Throws when the source fails. */
export type UpstreamFetch<View> = (upstreamEtag: string | undefined) => Promise<UpstreamResult<View>>;

/** What revalidation needs from L2; RedisCacheStore implements it. Throws CacheUnavailableError when it cannot answer. */
export interface RevalidationStore {
  readonly available: boolean;
  /** A TTL entry and the time its source last confirmed it (undefined when never revalidated). */
  getRevalidated(key: string): Promise<{ value: Buffer | null; confirmedAt: number | undefined }>;
  /** Stores a TTL entry outright (no CDC, so no fence), forgetting any earlier confirmation. */
  put(key: string, value: Buffer, retentionMs: number): Promise<void>;
  /** Records that the source confirmed the entry (a 304) and extends its life, without rewriting it. */
  confirm(key: string, at: number, retentionMs: number): Promise<void>;
}

export interface RevalidatingReadsOptions {
  enabled: boolean;
  /** Shared with the engine, so that forgetting a key (invalidation, flush) reaches every running read. */
  flights: SingleFlight<CacheRead>;
  clock?: Clock;
}

/**
 * Reads of `ttl` buckets (docs/contract.md §3 "Invoices", §5.2): sources without CDC. An
 * entry is fresh for the bucket's TTL. Past it, the source is asked with the
 * stored upstream ETag: a 304 only moves the entry's confirmation time (the
 * body is neither transferred nor stored again), a 200 replaces it. If the
 * source fails, the expired entry is still served while it is within the
 * grace period (`STALE`); Redis drops it after TTL + grace, and then a failing
 * source is the caller's error.
 *
 * Such entries are never answered by the early-hit hook (CachedHits refuses a
 * @CachedRead route on a ttl bucket at boot): freshness is decided here, per read.
 */
export class RevalidatingReads {
  private readonly flights: SingleFlight<CacheRead>;
  private readonly clock: Clock;

  constructor(
    private readonly store: RevalidationStore,
    private readonly l1: L1Cache,
    private readonly codec: EntryCodec,
    private readonly options: RevalidatingReadsOptions,
  ) {
    this.flights = options.flights;
    this.clock = options.clock ?? systemClock;
  }

  async read<View>(bucket: CacheBucket<View>, key: string, fetch: UpstreamFetch<View>): Promise<CacheRead> {
    if (!this.options.enabled || !this.store.available) return this.bypass(bucket, fetch);
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
    // Opened before any I/O: a flush of the key while we read or revalidate keeps the result out of L1.
    const ticket = this.l1.begin(key);
    try {
      const cached = local ?? (await this.fromL2(key));
      if (cached && this.isFresh(bucket, cached)) {
        bucket.counters.hits++;
        bucket.counters.l2Hits++;
        this.l1.commit(ticket, cached, this.remaining(bucket, cached));
        return { entry: cached, status: 'HIT-L2' };
      }
      return cached
        ? await this.revalidate(bucket, key, fetch, cached, ticket)
        : await this.fill(bucket, key, fetch, ticket);
    } catch (err) {
      if (!(err instanceof CacheUnavailableError)) throw err;
      return this.bypass(bucket, fetch);
    } finally {
      this.l1.close(ticket);
    }
  }

  private async fromL2(key: string): Promise<CacheEntry | undefined> {
    const { value, confirmedAt } = await this.store.getRevalidated(key);
    const decoded = value ? this.codec.decode(value) : undefined;
    return decoded && confirmedAt && confirmedAt > decoded.storedAt ? { ...decoded, storedAt: confirmedAt } : decoded;
  }

  private async revalidate<View>(
    bucket: CacheBucket<View>,
    key: string,
    fetch: UpstreamFetch<View>,
    cached: CacheEntry,
    ticket: ReadTicket,
  ): Promise<CacheRead> {
    let result: UpstreamResult<View>;
    try {
      result = await fetch(cached.upstreamEtag);
    } catch (err) {
      if (this.clock.now() - cached.storedAt > bucket.retentionMs) throw err;
      bucket.counters.stale++;
      return { entry: cached, status: 'STALE' };
    }
    if (result.status === 'not-modified') {
      bucket.counters.revalidatedNotModified++;
      const confirmed = { ...cached, storedAt: this.clock.now() };
      if (await this.afterSourceRead(() => this.store.confirm(key, confirmed.storedAt, bucket.retentionMs)))
        this.l1.commit(ticket, confirmed, this.remaining(bucket, confirmed));
      return { entry: confirmed, status: 'HIT-L2' };
    }
    bucket.counters.revalidatedModified++;
    return this.keep(bucket, key, toEntry(result.view, this.clock.now(), result.upstreamEtag), ticket);
  }

  private async fill<View>(
    bucket: CacheBucket<View>,
    key: string,
    fetch: UpstreamFetch<View>,
    ticket: ReadTicket,
  ): Promise<CacheRead> {
    const { view, upstreamEtag } = await this.fetchFull(fetch);
    bucket.counters.misses++;
    return this.keep(bucket, key, toEntry(view, this.clock.now(), upstreamEtag), ticket);
  }

  private async keep(bucket: CacheBucket, key: string, entry: CacheEntry, ticket: ReadTicket): Promise<CacheRead> {
    const value = this.codec.encode(entry, bucket.sensitive);
    if (await this.afterSourceRead(() => this.store.put(key, value, bucket.retentionMs)))
      this.l1.commit(ticket, entry, this.remaining(bucket, entry));
    return { entry, status: 'MISS' };
  }

  /**
   * A store write once the source has answered. If Redis fails now, the caller
   * still gets what the source said, uncached (as TwoTierCache.fill does):
   * falling through to bypass would read the source a second time and count
   * the request twice. False when the write did not happen.
   */
  private async afterSourceRead(write: () => Promise<void>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (err) {
      if (!(err instanceof CacheUnavailableError)) throw err;
      return false;
    }
  }

  private async bypass<View>(bucket: CacheBucket<View>, fetch: UpstreamFetch<View>): Promise<CacheRead> {
    bucket.counters.bypassed++;
    const { view, upstreamEtag } = await this.fetchFull(fetch);
    return { entry: toEntry(view, this.clock.now(), upstreamEtag), status: 'BYPASS' };
  }

  private async fetchFull<View>(fetch: UpstreamFetch<View>): Promise<{ view: View; upstreamEtag?: string }> {
    const result = await fetch(undefined);
    if (result.status !== 'ok') throw new Error('source answered 304 to an unconditional read');
    return result;
  }

  private isFresh(bucket: CacheBucket, entry: CacheEntry): boolean {
    return this.clock.now() - entry.storedAt <= bucket.ttlMs;
  }

  /** L1 keeps an entry only while it is fresh; after that every read goes through revalidation. */
  private remaining(bucket: CacheBucket, entry: CacheEntry): number {
    return Math.max(1, bucket.ttlMs - (this.clock.now() - entry.storedAt));
  }
}
