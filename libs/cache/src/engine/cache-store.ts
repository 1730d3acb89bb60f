/**
 * What the engine needs from the shared tier (L2), and all it may assume of it.
 * `RedisCacheStore` implements it with the scripts in stale-fill-guard.ts; the
 * engine's unit tests use an in-memory fake of the same contract. Every method
 * throws CacheUnavailableError when the store cannot answer, which the engine
 * turns into "serve from the source".
 */
export interface CacheStore {
  /** False while the store is known to be unreachable (circuit open, not connected). */
  readonly available: boolean;

  get(key: string): Promise<Buffer | null>;

  /** The entry if present, and whether a filler still holds the key's lease. */
  probe(key: string): Promise<{ value: Buffer | null; leased: boolean }>;

  /**
   * Takes the key's fill lease and answers the fence it must pass, or
   * undefined when another filler holds the lease or (`unlessFilled`) the
   * entry has been written meanwhile.
   */
  acquireLease(key: string, token: string, leaseMs: number, unlessFilled: boolean): Promise<FillFence | undefined>;

  /**
   * Writes a fill unless an invalidation fenced it off since the lease was
   * taken ('fenced') or its deadline has passed by the store's own clock
   * ('expired'): a write that reached the store late is refused there.
   */
  fill(key: string, value: Buffer, options: FillOptions): Promise<FillOutcome>;

  /** Gives the lease up if `token` still holds it. */
  releaseLease(key: string, token: string): Promise<void>;

  /** Drops keys and every view recorded under the dependencies, fences them, tells every L1; returns the keys dropped. */
  invalidate(keys: readonly string[], dependencies: readonly string[], origin: string): Promise<string[]>;

  /**
   * Drops every entry, dependency set and lease of a domain, fencing off its
   * fills that began before (stale-fill-guard.ts, "A WHOLE DOMAIN AT ONCE"),
   * and tells every L1 to drop `<domain>:*`; returns how many names were dropped.
   */
  invalidateAll(domain: string, origin: string): Promise<number>;
}

/** Taken with the lease, before the source read: what the fill is checked against when written. */
export interface FillFence {
  /** The domain's fence sequence at lease time. */
  sequence: number;
  /** The last instant (the store's clock for the key, ms) at which the fill may be written: lease time + MAX_FILL_MS. */
  deadline: number;
  /** The same bound by the clock that checks the fill's fences (on Redis Cluster, the domain's node). */
  domainDeadline: number;
}

export type FillOutcome = 'written' | 'fenced' | 'expired';

export interface FillOptions {
  fence: FillFence;
  token: string;
  /** 0 = no TTL. */
  ttlMs: number;
  dependencies: readonly string[];
}
