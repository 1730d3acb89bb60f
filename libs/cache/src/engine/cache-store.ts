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
   * Takes the key's fill lease and answers the fence sequence at this instant,
   * or undefined when another filler holds the lease or (`unlessFilled`) the
   * entry has been written meanwhile.
   */
  acquireLease(key: string, token: string, leaseMs: number, unlessFilled: boolean): Promise<number | undefined>;

  /** Writes a fill unless an invalidation fenced it off since `sequence`; true when written. */
  fill(key: string, value: Buffer, options: FillOptions): Promise<boolean>;

  /** Gives the lease up if `token` still holds it. */
  releaseLease(key: string, token: string): Promise<void>;

  /** Drops keys and every view recorded under the dependencies, fences them, tells every L1; returns the keys dropped. */
  invalidate(keys: readonly string[], dependencies: readonly string[], origin: string): Promise<string[]>;
}

export interface FillOptions {
  /** Fence sequence answered by acquireLease, taken before the source read. */
  sequence: number;
  token: string;
  /** 0 = no TTL. */
  ttlMs: number;
  dependencies: readonly string[];
}
