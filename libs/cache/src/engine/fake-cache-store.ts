import { CacheUnavailableError } from '../model/cache-errors';
import type { Clock } from '../model/clock';
import type { CacheStore, FillFence, FillOptions, FillOutcome } from './cache-store';
import { FENCE_TTL_MS, MAX_FILL_MS } from './stale-fill-guard';

/** The store's methods, as `failNext` and `hold` name them. */
export type StoreMethod =
  | 'get'
  | 'probe'
  | 'acquireLease'
  | 'fill'
  | 'releaseLease'
  | 'invalidate'
  | 'invalidateAll'
  | 'getRevalidated'
  | 'put'
  | 'confirm';

/** A held call: `reached` resolves when the call arrives; it runs once `release` is called. */
export interface HeldCall {
  reached: Promise<void>;
  release(): void;
}

interface Timed<T> {
  value: T;
  /** Store-clock ms after which it is gone (Redis PX); undefined = no expiry. */
  expiresAt?: number;
}

/** What goes out on the invalidation channel (l1/invalidation-bus.ts): keys dropped, or a glob to flush. */
export interface PublishedInvalidation {
  keys?: string[];
  flush?: string;
  origin: string;
}

type Listener = (message: PublishedInvalidation) => void;

/** A domain name as RedisCacheStore.dropDomains accepts it. */
const DOMAIN = /^[A-Za-z0-9_-]{1,128}$/;

/** The marker a whole-domain drop leaves (RedisNames.domainFence), which every fill of the domain checks. */
const domainMarker = (domain: string) => `${domain}:*`;
const domainOf = (key: string) => (key.includes(':') ? key.slice(0, key.indexOf(':')) : key);

/**
 * An in-memory CacheStore (and, structurally, revalidation's RevalidationStore,
 * which engine/ may not import) for the engine's unit tests. Each method is one
 * atomic step by `redisTime` (the store's own clock, as Redis's TIME is), and
 * models the contract rather than the protocol: a fill is refused when an
 * invalidation touched its key, a dependency or its domain after its lease
 * (markers by sequence). RedisCacheStore reaches the same outcome with the
 * single-slot steps of stale-fill-guard.ts, whose every interleaving is run
 * against Redis in test/cache/fence-protocol.e2e-spec.ts.
 *
 * Knobs for tests: `available`, `failNext` (the call throws
 * CacheUnavailableError, as RedisCacheStore does for any Redis error) and
 * `hold` (the call waits, before it runs, until the test releases it: a command
 * stuck in a connection, reaching Redis later).
 */
export class FakeCacheStore implements CacheStore {
  /** Every call in order, with its arguments. */
  readonly calls: { method: StoreMethod; args: unknown[] }[] = [];
  /** What invalidations and whole-domain drops published on the invalidation channel. */
  readonly published: PublishedInvalidation[] = [];

  private up = true;
  private readonly entries = new Map<string, Timed<Buffer>>();
  /** TTL buckets: when the source last confirmed the entry (RedisNames.fresh). */
  private readonly confirmations = new Map<string, Timed<number>>();
  private readonly leases = new Map<string, Timed<string>>();
  /** Fence markers by key, dependency or domain (`<domain>:*`): one namespace in Redis too. */
  private readonly markers = new Map<string, Timed<number>>();
  private readonly dependencySets = new Map<string, Set<string>>();
  private fenceSequence = 0;
  private readonly failures = new Map<StoreMethod, Error[]>();
  private readonly holds = new Map<StoreMethod, { arrive: () => void; released: Promise<void> }[]>();
  private readonly listeners: Listener[] = [];

  constructor(readonly redisTime: Clock) {}

  get available(): boolean {
    return this.up;
  }

  /** False: every call throws CacheUnavailableError (and the engine sees `available` false). */
  set available(up: boolean) {
    this.up = up;
  }

  /** The next call of `method` throws (CacheUnavailableError unless another error is given). */
  failNext(method: StoreMethod, error: Error = new CacheUnavailableError(`fake: ${method} failed`)): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), error]);
  }

  /** Holds the next call of `method` before it runs, until the returned call is released. */
  hold(method: StoreMethod): HeldCall {
    let arrive!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((r) => (arrive = r));
    const released = new Promise<void>((r) => (release = r));
    this.holds.set(method, [...(this.holds.get(method) ?? []), { arrive, released }]);
    return { reached, release };
  }

  /** Receives what invalidations publish, as every instance's InvalidationBus does. */
  subscribe(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** Arguments of every call of `method`. */
  callsOf(method: StoreMethod): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  // --- inspection and seeding, outside the contract ---

  entry(key: string): Buffer | null {
    return this.live(this.entries, key) ?? null;
  }

  /** Writes an entry directly (SET), e.g. one the codec cannot read. */
  setEntry(key: string, value: Buffer, ttlMs = 0): void {
    this.entries.set(key, this.timed(value, ttlMs));
  }

  leaseHolder(key: string): string | undefined {
    return this.live(this.leases, key);
  }

  marker(name: string): number | undefined {
    return this.live(this.markers, name);
  }

  dependents(dependency: string): string[] {
    return [...(this.dependencySets.get(dependency) ?? [])];
  }

  // --- CacheStore ---

  async get(key: string): Promise<Buffer | null> {
    await this.enter('get', [key]);
    return this.entry(key);
  }

  async probe(key: string): Promise<{ value: Buffer | null; leased: boolean }> {
    await this.enter('probe', [key]);
    return { value: this.entry(key), leased: this.leaseHolder(key) !== undefined };
  }

  /** LEASE_LUA and SEQUENCE_LUA. */
  async acquireLease(
    key: string,
    token: string,
    leaseMs: number,
    unlessFilled: boolean,
  ): Promise<FillFence | undefined> {
    await this.enter('acquireLease', [key, token, leaseMs, unlessFilled]);
    if (unlessFilled && this.entry(key) !== null) return undefined;
    if (this.leaseHolder(key) !== undefined) return undefined;
    this.leases.set(key, this.timed(token, leaseMs));
    const deadline = this.redisTime.now() + MAX_FILL_MS;
    return { sequence: this.fenceSequence, deadline, domainDeadline: deadline };
  }

  /** CHECK_LUA and WRITE_LUA as one step: the deadline first, then the markers of the key, its domain and its dependencies. */
  async fill(key: string, value: Buffer, options: FillOptions): Promise<FillOutcome> {
    await this.enter('fill', [key, value, options]);
    const outcome = this.fillOutcome(key, options);
    if (outcome === 'written') {
      this.entries.set(key, this.timed(value, options.ttlMs));
      for (const dependency of options.dependencies) {
        const members = this.dependencySets.get(dependency) ?? new Set<string>();
        this.dependencySets.set(dependency, members.add(key));
      }
    }
    this.release(key, options.token);
    return outcome;
  }

  async releaseLease(key: string, token: string): Promise<void> {
    await this.enter('releaseLease', [key, token]);
    this.release(key, token);
  }

  /** RedisCacheStore.invalidate's steps as one (and its early return when there is nothing to drop). */
  async invalidate(keys: readonly string[], dependencies: readonly string[], origin: string): Promise<string[]> {
    await this.enter('invalidate', [keys, dependencies, origin]);
    if (keys.length === 0 && dependencies.length === 0) return [];
    const sequence = ++this.fenceSequence;
    const dropped: string[] = [];
    const drop = (key: string) => {
      if (dropped.includes(key)) return;
      this.entries.delete(key);
      this.leases.delete(key);
      this.markers.set(key, this.timed(sequence, FENCE_TTL_MS));
      dropped.push(key);
    };
    keys.forEach(drop);
    for (const dependency of dependencies) {
      this.dependencySets.get(dependency)?.forEach(drop);
      this.dependencySets.delete(dependency);
      this.markers.set(dependency, this.timed(sequence, FENCE_TTL_MS));
    }
    if (dropped.length > 0) this.publish({ keys: dropped, origin });
    return dropped;
  }

  /**
   * RedisCacheStore.dropDomains for one domain: a domain marker,
   * then the domain's entries, dependency sets, leases and confirmations, then
   * `flush`. Redis does it in steps (SCAN); here it is one step, which is one
   * of the orders Redis may produce. Counts entries and dependency sets.
   */
  async invalidateAll(domain: string, origin: string): Promise<number> {
    await this.enter('invalidateAll', [domain, origin]);
    if (!DOMAIN.test(domain) || domain === 'cache') throw new Error(`not a cache domain: ${JSON.stringify(domain)}`);
    this.markers.set(domainMarker(domain), this.timed(++this.fenceSequence, FENCE_TTL_MS));
    const drop = (names: Map<string, unknown>) => {
      const gone = [...names.keys()].filter((name) => name.startsWith(`${domain}:`));
      gone.forEach((name) => names.delete(name));
      return gone.length;
    };
    const dropped = drop(this.entries) + drop(this.dependencySets);
    drop(this.leases);
    drop(this.confirmations);
    this.publish({ flush: domainMarker(domain), origin });
    return dropped;
  }

  // --- RevalidationStore ---

  async getRevalidated(key: string): Promise<{ value: Buffer | null; confirmedAt: number | undefined }> {
    await this.enter('getRevalidated', [key]);
    return { value: this.entry(key), confirmedAt: this.live(this.confirmations, key) };
  }

  async put(key: string, value: Buffer, retentionMs: number): Promise<void> {
    await this.enter('put', [key, value, retentionMs]);
    this.entries.set(key, this.timed(value, retentionMs));
    this.confirmations.delete(key);
  }

  async confirm(key: string, at: number, retentionMs: number): Promise<void> {
    await this.enter('confirm', [key, at, retentionMs]);
    this.confirmations.set(key, this.timed(at, retentionMs));
    const entry = this.live(this.entries, key);
    if (entry) this.entries.set(key, this.timed(entry, retentionMs)); // PEXPIRE
  }

  // --- internals ---

  private fillOutcome(key: string, options: FillOptions): FillOutcome {
    if (this.redisTime.now() > options.fence.deadline) return 'expired';
    for (const name of [key, domainMarker(domainOf(key)), ...options.dependencies]) {
      const marker = this.marker(name);
      if (marker !== undefined && marker > options.fence.sequence) return 'fenced';
    }
    return 'written';
  }

  private publish(message: PublishedInvalidation): void {
    this.published.push(message);
    for (const listener of this.listeners) listener(message);
  }

  private release(key: string, token: string): void {
    if (this.leaseHolder(key) === token) this.leases.delete(key);
  }

  private timed<T>(value: T, ttlMs: number): Timed<T> {
    return ttlMs > 0 ? { value, expiresAt: this.redisTime.now() + ttlMs } : { value };
  }

  /** The value unless it has expired by the store's clock (then it is removed, as Redis does lazily). */
  private live<T>(map: Map<string, Timed<T>>, key: string): T | undefined {
    const item = map.get(key);
    if (item?.expiresAt !== undefined && this.redisTime.now() > item.expiresAt) {
      map.delete(key);
      return undefined;
    }
    return item?.value;
  }

  /** Records the call, then waits if held, then fails if told to: in that order, like a command on the wire. */
  private async enter(method: StoreMethod, args: unknown[]): Promise<void> {
    this.calls.push({ method, args });
    const held = this.holds.get(method)?.shift();
    if (held) {
      held.arrive();
      await held.released;
    }
    if (!this.up) throw new CacheUnavailableError(`fake: store unavailable (${method})`);
    const failure = this.failures.get(method)?.shift();
    if (failure) throw failure;
  }
}
