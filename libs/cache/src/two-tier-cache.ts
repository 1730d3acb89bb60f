import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { CacheBucket } from './cache-bucket';
import { CacheUnavailableError } from './cache-errors';
import type { DomainCache } from './domain-cache';
import { CacheEntry, EntryCodec } from './entry-codec';
import { computeEtag } from './etag';
import { serializeView } from './representation';
import { L1Cache, ReadTicket } from './l1-cache';
import { RedisCacheStore } from './redis-cache-store';
import { SingleFlight } from './single-flight';
import { RevalidatingReads, UpstreamFetch } from './revalidating-reads';
import { MAX_FILL_MS } from './stale-fill-guard';

export type CacheStatus = 'HIT-L1' | 'HIT-L2' | 'MISS' | 'STALE' | 'BYPASS';

export interface CacheRead {
  entry: CacheEntry;
  status: CacheStatus;
}

export interface TwoTierCacheOptions {
  /** CACHE_ENABLED: false serves everything from the source. */
  enabled: boolean;
  /** Identifies this instance in lease tokens and invalidation messages. */
  instanceId: string;
  /** How long a fill lease lives if its holder dies mid-fill. */
  leaseMs?: number;
  /** How long another instance's fill is waited for before reading the source unfilled. */
  waitMs?: number;
}

/** Back-off between polls for another instance's fill: 5, 10, 20, 40, 80, 100, 100… ms. */
function backoffMs(attempt: number): number {
  return Math.min(5 * 2 ** attempt, 100);
}

/**
 * Get-or-fill over L1 and L2 (SPEC §5.3–5.6). One instance of this per
 * process; domain cache services hold buckets and call `read`.
 *
 * Every request ends as exactly one of: an L1 hit, an L2 hit, a miss (this
 * request read the source), coalesced (it waited for someone else's source
 * read), or bypassed (cache off or Redis unreachable). So a bucket's `misses`
 * is the number of source reads, and "one source read per key" is `misses: 1`.
 */
export class TwoTierCache {
  private readonly logger = new Logger('TwoTierCache');
  private readonly flights = new SingleFlight<CacheRead>();
  private readonly leaseMs: number;
  private readonly waitMs: number;
  private tokens = 0;
  private readonly revalidating: RevalidatingReads;
  /** Domain cache services by domain name, for health routes, metrics and invalidation counts. */
  readonly domains = new Map<string, DomainCache>();

  constructor(
    private readonly store: RedisCacheStore,
    readonly l1: L1Cache,
    private readonly codec: EntryCodec,
    readonly options: TwoTierCacheOptions,
  ) {
    this.revalidating = new RevalidatingReads(store, l1, codec, () => this.options.enabled);
    this.leaseMs = options.leaseMs ?? 5000;
    this.waitMs = options.waitMs ?? 2000;
  }

  registerDomain(domain: DomainCache): void {
    if (this.domains.has(domain.domain)) throw new Error(`cache domain ${domain.domain} registered twice`);
    this.domains.set(domain.domain, domain);
  }

  /**
   * Keys dropped anywhere, as seen on the channel: in-process fills of them that
   * began before are not joined any more, and the keys count against their domain.
   */
  countInvalidated(keys: readonly string[]): void {
    this.flights.forget(keys);
    for (const key of keys) {
      const domain = this.domains.get(key.slice(0, key.indexOf(':')));
      if (domain) domain.invalidations++;
    }
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
   * A hit from L2 (an L1 miss that Redis holds), or undefined: never reads the
   * source and never waits, so the early hit path can fall back to `read` on
   * undefined. The hit is copied into L1 like any other L2 hit.
   */
  async lookup(bucket: CacheBucket, key: string): Promise<CacheEntry | undefined> {
    if (!this.options.enabled || !this.store.available) return undefined;
    const ticket = this.l1.begin(key);
    try {
      return this.hitFromL2(bucket, await this.store.get(key), ticket);
    } catch (err) {
      if (!(err instanceof CacheUnavailableError)) throw err;
      return undefined;
    } finally {
      this.l1.close(ticket);
    }
  }

  async read<View>(bucket: CacheBucket<View>, key: string, load: () => Promise<View>): Promise<CacheRead> {
    if (!this.options.enabled || !this.store.available) return this.bypass(bucket, load);
    const hit = this.peek(bucket, key);
    if (hit) return { entry: hit, status: 'HIT-L1' };
    const flight = this.flights.run(key, () => this.readThrough(bucket, key, load));
    if (flight.joined) bucket.counters.coalesced++;
    return flight.promise;
  }

  /** Reads a `ttl` bucket: fresh entries are hits, expired ones are revalidated with the source (see RevalidatingReads). */
  readRevalidating<View>(bucket: CacheBucket<View>, key: string, fetch: UpstreamFetch<View>): Promise<CacheRead> {
    return this.revalidating.read(bucket, key, fetch);
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

  /** Admin flush by pattern: L2 by SCAN, and every instance's L1 through the channel. */
  async flush(pattern: string): Promise<number> {
    this.l1.deleteMatching(pattern);
    const deleted = await this.store.deleteMatching(pattern);
    await this.store.publish({ flush: pattern, origin: this.options.instanceId });
    return deleted;
  }

  usage(pattern: string) {
    return this.store.usage(pattern);
  }

  /** Serialises a view once; the bytes and their ETag are what every later hit sends. */
  toEntry(view: unknown): CacheEntry {
    const body = serializeView(view);
    return { body, etag: computeEtag(body), storedAt: Date.now() };
  }

  private async bypass<View>(bucket: CacheBucket<View>, load: () => Promise<View>): Promise<CacheRead> {
    bucket.counters.bypassed++;
    return { entry: this.toEntry(await load()), status: 'BYPASS' };
  }

  private async readThrough<View>(
    bucket: CacheBucket<View>,
    key: string,
    load: () => Promise<View>,
  ): Promise<CacheRead> {
    // Opened before L2 is read: an invalidation arriving while we read fences the L1 write.
    const ticket = this.l1.begin(key);
    try {
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
    const deadline = Date.now() + this.waitMs;
    let leased = false;
    for (let attempt = 0; ; attempt++) {
      if (!leased) {
        // "Unless filled": someone who filled between our L2 miss and now is polled for, not read again.
        const sequence = await this.store.acquireLease(key, token, this.leaseMs, absent);
        if (sequence !== undefined) return this.fill(bucket, key, load, ticket, token, sequence);
      }
      if (Date.now() >= deadline) {
        bucket.counters.misses++;
        return { entry: this.toEntry(await load()), status: 'MISS' };
      }
      await sleep(backoffMs(attempt));
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
    sequence: number,
  ): Promise<CacheRead> {
    const started = Date.now();
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
    if (Date.now() - started > MAX_FILL_MS) {
      // Older than the fence markers can vouch for: serve it, never store it.
      await this.store.releaseLease(key, token).catch(() => undefined);
      bucket.counters.staleFillsDiscarded++;
      return { entry, status: 'MISS' };
    }
    const written = await this.store
      .fill(key, this.codec.encode(entry, bucket.sensitive), {
        sequence,
        token,
        ttlMs: bucket.ttlMs,
        dependencies: bucket.dependenciesOf(view),
      })
      .catch((err: unknown) => {
        if (err instanceof CacheUnavailableError) return undefined;
        throw err;
      });
    if (written) this.l1.commit(ticket, entry, bucket.ttlMs || undefined);
    else if (written === false) bucket.counters.staleFillsDiscarded++;
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
    return Math.max(1, bucket.ttlMs - (Date.now() - entry.storedAt));
  }
}
