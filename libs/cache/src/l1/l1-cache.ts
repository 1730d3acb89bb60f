import { LRUCache } from 'lru-cache';
import { CacheEntry } from '../model/cache-entry';
import { Clock, systemClock } from '../model/clock';
import { globMatch } from '../model/glob';

/** Bytes an entry costs beyond its body and key (object, etag, LRU bookkeeping); an estimate. */
const ENTRY_OVERHEAD_BYTES = 160;

/**
 * An open read of one key (an L2 get or a fill). If an invalidation of the key
 * arrives while it is open, the ticket turns dirty and what the read brings
 * back is not put in L1: it may predate the invalidation.
 */
export interface ReadTicket {
  readonly key: string;
  dirty: boolean;
}

/**
 * The in-process tier: an LRU bounded in bytes holding the serialised body and
 * its ETag, so a hit sends stored bytes. It is only trusted while the
 * invalidation channel is up: losing the channel clears it and turns it off
 * until the channel is back (docs/contract.md §5.6), since any message may have been lost.
 *
 * Connected is not enough when a connection hangs (bytes held, nothing
 * closed): messages then stop arriving with no error. So the bus confirms the
 * channel with PINGs, and L1 answers only while the last confirmation is
 * younger than `maxStalenessMs`. A PONG arrives in order behind every message
 * published before Redis ran the PING, so the instant the PING was sent is a
 * point up to which every invalidation has been applied here.
 */
export class L1Cache {
  private readonly lru: LRUCache<string, CacheEntry>;
  private readonly open = new Map<string, Set<ReadTicket>>();
  private connected = false;
  private confirmedAt = -Infinity;
  private readonly clock: Clock;

  constructor(
    readonly enabled: boolean,
    maxBytes: number,
    /** L1_MAX_STALENESS_MS: how old the last confirmation of the channel may be for L1 to answer. */
    readonly maxStalenessMs = 500,
    clock: Clock = systemClock,
  ) {
    this.clock = clock;
    this.lru = new LRUCache<string, CacheEntry>({
      maxSize: maxBytes,
      sizeCalculation: (entry, key) => entry.body.length + entry.etag.length + key.length * 2 + ENTRY_OVERHEAD_BYTES,
    });
  }

  /** Whether L1 is being used right now (enabled and the channel is up). */
  get active(): boolean {
    return this.enabled && this.connected;
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /** Whether L1 may answer now: active, and the channel confirmed within the staleness bound. */
  get answering(): boolean {
    return this.active && this.clock.now() - this.confirmedAt <= this.maxStalenessMs;
  }

  get(key: string): CacheEntry | undefined {
    return this.answering ? this.lru.get(key) : undefined;
  }

  /** Every invalidation published before `at` has been applied here (a PONG or a SUBSCRIBE answered). */
  confirm(at: number): void {
    if (at > this.confirmedAt) this.confirmedAt = at;
  }

  /** Opens a read of `key`; pass the ticket to `commit` or `close` when the read is over. */
  begin(key: string): ReadTicket {
    // Born dirty while L1 is off: nothing it brings back is stored, so it needs no tracking.
    if (!this.active) return { key, dirty: true };
    const ticket: ReadTicket = { key, dirty: false };
    let tickets = this.open.get(key);
    if (!tickets) this.open.set(key, (tickets = new Set()));
    tickets.add(ticket);
    return ticket;
  }

  /** Stores what a read brought back, unless the key was invalidated (or the channel dropped) meanwhile. */
  commit(ticket: ReadTicket, entry: CacheEntry, ttlMs?: number): void {
    if (!ticket.dirty && this.active) this.lru.set(ticket.key, entry, ttlMs ? { ttl: ttlMs } : undefined);
    this.close(ticket);
  }

  close(ticket: ReadTicket): void {
    const tickets = this.open.get(ticket.key);
    if (!tickets) return;
    tickets.delete(ticket);
    if (tickets.size === 0) this.open.delete(ticket.key);
  }

  delete(keys: Iterable<string>): void {
    for (const key of keys) {
      this.lru.delete(key);
      for (const ticket of this.open.get(key) ?? []) ticket.dirty = true;
    }
  }

  /** Drops keys matching a glob (`*`, `?`), for admin flushes (globMatch: no backtracking, whatever the pattern). */
  deleteMatching(glob: string): void {
    const matching = [...this.lru.keys()].filter((k) => globMatch(glob, k));
    const open = [...this.open.keys()].filter((k) => globMatch(glob, k));
    this.delete(new Set([...matching, ...open]));
  }

  clear(): void {
    this.lru.clear();
    for (const tickets of this.open.values()) for (const ticket of tickets) ticket.dirty = true;
  }

  /** Called by the invalidation bus: L1 is usable only while its channel is subscribed. */
  setConnected(connected: boolean): void {
    if (this.connected !== connected) this.clear();
    this.connected = connected;
    if (!connected) this.confirmedAt = -Infinity;
  }
}
