import { Logger } from '@nestjs/common';
import { L1Cache, ReadTicket } from '../l1/l1-cache';
import { CacheBucket } from '../model/cache-bucket';
import { CacheEntry } from '../model/cache-entry';
import { CacheUnavailableError } from '../model/cache-errors';
import { CacheRead } from '../model/cache-read';
import { Clock, systemClock } from '../model/clock';
import { EntryCodec } from '../model/entry-codec';
import { toEntry } from '../model/representation';
import { CacheStore, FillFence } from './cache-store';
import { SingleFlight } from './single-flight';
import { MAX_FILL_MS } from './stale-fill-guard';

export interface TwoTierCacheOptions {
  /** CACHE_ENABLED: false serves everything from the source. */
  enabled: boolean;
  /** Identifies this instance in lease tokens and invalidation messages. */
  instanceId: string;
  /** How long a fill lease lives if its holder dies mid-fill. */
  leaseMs?: number;
  /** How long another instance's fill is waited for before reading the source unfilled. */
  waitMs?: number;
  /** In-process coalescing, shared with RevalidatingReads so forgetting a key reaches both. */
  flights?: SingleFlight<CacheRead>;
  clock?: Clock;
}

/** Back-off between polls for another instance's fill: 5, 10, 20, 40, 80, 100, 100… ms. */
function backoffMs(attempt: number): number {
  return Math.min(5 * 2 ** attempt, 100);
}

/**
 * Get-or-fill over L1 and L2 (docs/contract.md §5.3–5.6) for `cdc` and `hybrid` buckets.
 * One instance of this per process; domain cache services hold buckets and
 * call `read`. It knows nothing of domains: DomainRegistry does.
 *
 * Every request ends as exactly one of: an L1 hit, an L2 hit, a miss (this
 * request read the source), coalesced (it waited for someone else's source
 * read), or bypassed (cache off or Redis unreachable). So a bucket's `misses`
 * is the number of source reads, and "one source read per key" is `misses: 1`.
 */
export class TwoTierCache {
  private readonly logger = new Logger('TwoTierCache');
  private readonly flights: SingleFlight<CacheRead>;
  private readonly leaseMs: number;
  private readonly waitMs: number;
  private readonly clock: Clock;
  private tokens = 0;

  constructor(
    private readonly store: CacheStore,
    private readonly l1: L1Cache,
    private readonly codec: EntryCodec,
    readonly options: TwoTierCacheOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 5000;
    this.waitMs = options.waitMs ?? 2000;
    this.clock = options.clock ?? systemClock;
    this.flights = options.flights ?? new SingleFlight<CacheRead>();
  }

  /**
   * Keys dropped anywhere, as seen on the channel: in-process fills of them
   * that began before may bring back the old value, so nobody joins them now.
   */
  forgetFlights(keys: readonly string[]): void {
    this.flights.forget(keys);
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** The synchronous L1 lookup, kept apart so a hit costs no promise. */
  peek(bucket: CacheBucket, key: string): CacheEntry | undefined {
    if (!this.options.enabled) return undefined;
    const entry = this.l1.get(key);
    if (entry) {
      bucket.counters.hits++;
      bucket.counters.l1Hits++;
    }
    return entry;
  }

  /**
   * A hit from L2 (an L1 miss that Redis holds); `null` when L2 holds no entry
   * for the key; undefined when nothing could be learnt (cache off, Redis
   * unavailable, an entry this instance cannot read). Never reads the source
   * and never waits, so the early hit path can fall back to `read`. The hit is
   * copied into L1 like any other L2 hit. One promise chain rather than an
   * `async` frame: it runs for every request that L1 does not answer.
   */
  lookup(bucket: CacheBucket, key: string): Promise<CacheEntry | null | undefined> {
    if (!this.options.enabled || !this.store.available) return Promise.resolve(undefined);
    const ticket = this.l1.begin(key);
    return this.store.get(key).then(
      (raw) => {
        const hit = raw === null ? null : this.hitFromL2(bucket, raw, ticket);
        if (!hit) this.l1.close(ticket); // a hit's commit closed it
        return hit;
      },
      (err: unknown) => {
        this.l1.close(ticket);
        if (!(err instanceof CacheUnavailableError)) throw err;
        return undefined;
      },
    );
  }

  /**
   * Get-or-fill. `afterL2Miss`: the caller has just read L2 for this key and
   * found no entry (the early hit path's `lookup` answered null), so the read
   * goes straight to the lease instead of asking Redis again. The lease is
   * taken only unless the entry was filled meanwhile, so a fill that landed in
   * between is still found (by the first poll, as a coalesced L2 hit).
   */
  async read<View>(
    bucket: CacheBucket<View>,
    key: string,
    load: () => Promise<View>,
    afterL2Miss = false,
  ): Promise<CacheRead> {
    if (!this.options.enabled || !this.store.available) return this.bypass(bucket, load);
    const hit = this.peek(bucket, key);
    if (hit) return { entry: hit, status: 'HIT-L1' };
    const flight = this.flights.run(key, () => this.readThrough(bucket, key, load, afterL2Miss));
    if (flight.joined) bucket.counters.coalesced++;
    return flight.promise;
  }

  /** Drops keys and dependency views everywhere (L2, every instance's L1); returns the keys dropped. */
  async invalidate(keys: readonly string[], dependencies: readonly string[] = []): Promise<string[]> {
    this.l1.delete(keys);
    // A fill that began before this may bring back the old value: later readers must not join it.
    this.flights.forget(keys);
    const dropped = await this.store.invalidate(keys, dependencies, this.options.instanceId);
    // The channel echoes this to us too; dropping now gives read-your-writes on this instance.
    this.l1.delete(dropped);
    this.flights.forget(dropped);
    return dropped;
  }

  /**
   * Drops every view of a domain everywhere (L2 by SCAN, every instance's L1
   * through the channel), fencing its in-flight fills; for events that name
   * no keys (a TRUNCATE). Returns how many entries and dependency sets went.
   * In-process flights cannot be listed by domain: a request joining a fill
   * that began before this still shares its answer (that fill is not stored).
   */
  async invalidateAll(domain: string): Promise<number> {
    const pattern = `${domain}:*`;
    this.l1.deleteMatching(pattern);
    const dropped = await this.store.invalidateAll(domain, this.options.instanceId);
    // After L2 is empty: anything read from L2 in between is dropped again (read-your-writes before the echo).
    this.l1.deleteMatching(pattern);
    return dropped;
  }

  private toEntry(view: unknown): CacheEntry {
    return toEntry(view, this.clock.now());
  }

  private async bypass<View>(bucket: CacheBucket<View>, load: () => Promise<View>): Promise<CacheRead> {
    bucket.counters.bypassed++;
    return { entry: this.toEntry(await load()), status: 'BYPASS' };
  }

  private async readThrough<View>(
    bucket: CacheBucket<View>,
    key: string,
    load: () => Promise<View>,
    afterL2Miss: boolean,
  ): Promise<CacheRead> {
    // Opened before L2 is read: an invalidation arriving while we read fences the L1 write.
    const ticket = this.l1.begin(key);
    try {
      if (afterL2Miss) return await this.fillOrWait(bucket, key, load, ticket, true);
      const raw = await this.store.get(key);
      const cached = this.hitFromL2(bucket, raw, ticket);
      if (cached) return { entry: cached, status: 'HIT-L2' };
      return await this.fillOrWait(bucket, key, load, ticket, raw === null);
    } catch (err) {
      if (!(err instanceof CacheUnavailableError)) throw err;
      return this.bypass(bucket, load);
    } finally {
      this.l1.close(ticket);
    }
  }

  /**
   * Takes the key's lease and fills, or waits for the instance holding it. If
   * the holder goes away without writing (its fill failed or was fenced), the
   * lease is free again and the next poll takes it. If waiting runs out, the
   * source is read without filling, so a slow filler never blocks a reader.
   */
  private async fillOrWait<View>(
    bucket: CacheBucket<View>,
    key: string,
    load: () => Promise<View>,
    ticket: ReadTicket,
    /** False when L2 holds an entry this instance cannot read: the fill replaces it. */
    absent: boolean,
  ): Promise<CacheRead> {
    const token = `${this.options.instanceId}:${++this.tokens}`;
    const deadline = this.clock.now() + this.waitMs;
    let leased = false;
    for (let attempt = 0; ; attempt++) {
      if (!leased) {
        // "Unless filled": someone who filled between our L2 miss and now is polled for, not read again.
        const fence = await this.store.acquireLease(key, token, this.leaseMs, absent);
        if (fence !== undefined) return this.fill(bucket, key, load, ticket, token, fence);
      }
      if (this.clock.now() >= deadline) {
        bucket.counters.misses++;
        return { entry: this.toEntry(await load()), status: 'MISS' };
      }
      await this.clock.sleep(backoffMs(attempt));
      const probe = await this.store.probe(key);
      const filled = this.decode(probe.value);
      if (filled) {
        bucket.counters.coalesced++;
        this.l1.commit(ticket, filled, this.remainingTtl(bucket, filled));
        return { entry: filled, status: 'HIT-L2' };
      }
      leased = probe.leased;
      absent = probe.value === null;
    }
  }

  private async fill<View>(
    bucket: CacheBucket<View>,
    key: string,
    load: () => Promise<View>,
    ticket: ReadTicket,
    token: string,
    fence: FillFence,
  ): Promise<CacheRead> {
    const started = this.clock.now();
    let view: View;
    try {
      view = await load();
    } catch (err) {
      // Not cached; release the lease so waiters stop waiting and get their own answer.
      await this.store.releaseLease(key, token).catch(() => undefined);
      throw err;
    }
    bucket.counters.misses++;
    const entry = this.toEntry(view);
    if (this.clock.now() - started > MAX_FILL_MS) {
      // Past the deadline the store would refuse anyway (stale-fill-guard.ts): skip the round trip.
      await this.store.releaseLease(key, token).catch(() => undefined);
      bucket.counters.staleFillsDiscarded++;
      return { entry, status: 'MISS' };
    }
    const outcome = await this.store
      .fill(key, this.codec.encode(entry, bucket.sensitive), {
        fence,
        token,
        ttlMs: bucket.ttlMs,
        dependencies: bucket.dependenciesOf(view),
      })
      .catch((err: unknown) => {
        if (err instanceof CacheUnavailableError) return undefined;
        throw err;
      });
    if (outcome === 'written') this.l1.commit(ticket, entry, bucket.ttlMs || undefined);
    else if (outcome !== undefined) bucket.counters.staleFillsDiscarded++;
    // A discarded fill is still the truth as of its source read: the caller gets it, the cache does not.
    return { entry, status: 'MISS' };
  }

  /** Decodes what L2 returned; a readable entry counts as an L2 hit and is copied into L1 under the ticket. */
  private hitFromL2(bucket: CacheBucket, raw: Buffer | null, ticket: ReadTicket): CacheEntry | undefined {
    const cached = this.decode(raw);
    if (cached) {
      bucket.counters.hits++;
      bucket.counters.l2Hits++;
      this.l1.commit(ticket, cached, this.remainingTtl(bucket, cached));
    }
    return cached;
  }

  private decode(raw: Buffer | null): CacheEntry | undefined {
    if (!raw) return undefined;
    const entry = this.codec.decode(raw);
    if (!entry) this.logger.warn('unreadable cache entry ignored (corrupt, or sealed with another key)');
    return entry;
  }

  private remainingTtl(bucket: CacheBucket, entry: CacheEntry): number | undefined {
    if (!bucket.ttlMs) return undefined;
    return Math.max(1, bucket.ttlMs - (this.clock.now() - entry.storedAt));
  }
}
