import type { Redis } from 'ioredis';
import { CacheStore, FillFence, FillOptions, FillOutcome } from '../engine/cache-store';
import {
  ACQUIRE_LEASE_LUA,
  FENCE_ALL_LUA,
  FENCE_TTL_MS,
  FILL_LUA,
  INVALIDATE_LUA,
  MAX_FILL_MS,
} from '../engine/stale-fill-guard';
import { CacheUnavailableError } from '../model/cache-errors';
import { adminPatternMatches } from '../model/cache-key';
import { CircuitBreaker } from './circuit-breaker';
import { evictionPolicyOf, unsupportedPolicyMessage } from './eviction-policy';
import { RedisNames } from './redis-names';

interface FencedRedis extends Redis {
  cacheAcquireLease(
    lease: string,
    sequence: string,
    entry: string,
    token: string,
    leaseMs: number,
    unlessFilled: number,
    maxFillMs: number,
  ): Promise<[string, string] | null>;
  cacheFill(numKeys: number, ...args: (string | number | Buffer)[]): Promise<number>;
  cacheInvalidate(numKeys: number, ...args: (string | number)[]): Promise<string[]>;
  cacheFenceAll(numKeys: number, ...args: (string | number)[]): Promise<number>;
}

/** A domain name as cacheKey() accepts it, and never the cache's own `cache:` names. */
const DOMAIN = /^[A-Za-z0-9_-]{1,128}$/;

export interface UsageReport {
  keys: number;
  bytes: number;
}

/** Names (keys and dependencies) per INVALIDATE script call. */
export const INVALIDATE_CHUNK = 5000;

/**
 * The cache's only I/O boundary to Redis. Every call runs under the circuit
 * breaker and turns any Redis failure into CacheUnavailableError, which callers
 * treat as "serve from the source".
 */
export class RedisCacheStore implements CacheStore {
  private readonly redis: FencedRedis;
  errors = 0;
  /** Set while Redis runs an eviction policy that could make views stale (eviction-policy.ts): reads bypass L2. */
  unsupportedSetup: string | undefined;

  constructor(
    redis: Redis,
    readonly names: RedisNames,
    readonly breaker: CircuitBreaker,
  ) {
    redis.defineCommand('cacheAcquireLease', { numberOfKeys: 3, lua: ACQUIRE_LEASE_LUA });
    redis.defineCommand('cacheFill', { lua: FILL_LUA });
    redis.defineCommand('cacheInvalidate', { lua: INVALIDATE_LUA });
    redis.defineCommand('cacheFenceAll', { lua: FENCE_ALL_LUA });
    this.redis = redis as FencedRedis;
  }

  get client(): Redis {
    return this.redis;
  }

  get available(): boolean {
    return this.breaker.state !== 'open' && this.redis.status === 'ready' && this.unsupportedSetup === undefined;
  }

  /** Reads Redis's eviction policy; answers (and remembers) why it is unsupported, or undefined. */
  async checkEvictionPolicy(): Promise<string | undefined> {
    const info = await this.guard(() => this.redis.info('memory'));
    this.unsupportedSetup = unsupportedPolicyMessage(evictionPolicyOf(info));
    return this.unsupportedSetup;
  }

  async get(key: string): Promise<Buffer | null> {
    return this.guard(() => this.redis.getBuffer(this.names.entry(key)));
  }

  /** A TTL entry and the time its source last confirmed it (undefined when never revalidated). */
  async getRevalidated(key: string): Promise<{ value: Buffer | null; confirmedAt: number | undefined }> {
    return this.guard(async () => {
      const results = await this.redis.pipeline().getBuffer(this.names.entry(key)).get(this.names.fresh(key)).exec();
      const [[getErr, value], [freshErr, confirmed]] = results ?? [];
      if (getErr || freshErr) throw getErr ?? freshErr;
      return { value: value as Buffer | null, confirmedAt: confirmed ? Number(confirmed) : undefined };
    });
  }

  /** Stores a TTL entry outright (no CDC, so no fence), forgetting any earlier confirmation. */
  async put(key: string, value: Buffer, retentionMs: number): Promise<void> {
    await this.guard(() =>
      this.redis.multi().set(this.names.entry(key), value, 'PX', retentionMs).del(this.names.fresh(key)).exec(),
    );
  }

  /** Records that the source confirmed a TTL entry (304) and extends its life, without rewriting it. */
  async confirm(key: string, at: number, retentionMs: number): Promise<void> {
    await this.guard(() =>
      this.redis
        .multi()
        .set(this.names.fresh(key), String(at), 'PX', retentionMs)
        .pexpire(this.names.entry(key), retentionMs)
        .exec(),
    );
  }

  /** The entry if present, and whether a filler still holds the key's lease. */
  async probe(key: string): Promise<{ value: Buffer | null; leased: boolean }> {
    return this.guard(async () => {
      const results = await this.redis.pipeline().getBuffer(this.names.entry(key)).exists(this.names.lease(key)).exec();
      const [[getErr, value], [existsErr, leased]] = results ?? [];
      if (getErr || existsErr) throw getErr ?? existsErr;
      return { value: value as Buffer | null, leased: leased === 1 };
    });
  }

  /**
   * Takes the fill lease; answers the fence sequence, or undefined when another
   * filler holds it or (`unlessFilled`) the entry has been written meanwhile.
   */
  async acquireLease(key: string, token: string, leaseMs: number, unlessFilled = true): Promise<FillFence | undefined> {
    const n = this.names;
    const granted = await this.guard(() =>
      this.redis.cacheAcquireLease(
        n.lease(key),
        n.fenceSequence,
        n.entry(key),
        token,
        leaseMs,
        unlessFilled ? 1 : 0,
        MAX_FILL_MS,
      ),
    );
    return granted === null ? undefined : { sequence: Number(granted[0]), deadline: Number(granted[1]) };
  }

  async fill(key: string, value: Buffer, options: FillOptions): Promise<FillOutcome> {
    const { dependencies: deps } = options;
    const keys = [
      this.names.entry(key),
      this.names.lease(key),
      this.names.fence(key),
      this.names.domainFenceOf(key),
      ...deps.map((d) => this.names.fence(d)),
      ...deps.map((d) => this.names.entry(d)),
    ];
    const written = await this.guard(() =>
      this.redis.cacheFill(
        keys.length,
        ...keys,
        options.fence.sequence,
        options.ttlMs,
        options.token,
        deps.length,
        value,
        key,
        options.fence.deadline,
      ),
    );
    return written === 1 ? 'written' : written === -1 ? 'expired' : 'fenced';
  }

  async releaseLease(key: string, token: string): Promise<void> {
    await this.guard(async () => {
      if ((await this.redis.get(this.names.lease(key))) === token) await this.redis.del(this.names.lease(key));
    });
  }

  /**
   * Drops keys and every view recorded under the dependencies; publishes them for L1 (one channel message per
   * script call). Returns what was dropped. At most INVALIDATE_CHUNK names (keys and dependencies) go to one
   * script call, so that a bulk change neither builds one huge command nor blocks Redis for long in one
   * script: larger invalidations are several calls, one after the other (each is atomic; together they
   * commute, and a failure part way is made good by applying the whole again).
   */
  async invalidate(keys: readonly string[], dependencies: readonly string[], origin: string): Promise<string[]> {
    const n = this.names;
    const total = keys.length + dependencies.length;
    const dropped: string[] = [];
    for (let from = 0; from < total; from += INVALIDATE_CHUNK) {
      const to = Math.min(total, from + INVALIDATE_CHUNK);
      const chunkKeys = keys.slice(Math.min(from, keys.length), Math.min(to, keys.length));
      const chunkDependencies = dependencies.slice(Math.max(0, from - keys.length), Math.max(0, to - keys.length));
      const names = await this.guard(() =>
        this.redis.cacheInvalidate(
          2,
          n.fenceSequence,
          n.fenceIndex,
          n.entryPrefix,
          n.leasePrefix,
          n.fencePrefix,
          n.invalidationChannel,
          FENCE_TTL_MS,
          chunkKeys.length,
          ...chunkKeys,
          ...chunkDependencies,
          origin,
        ),
      );
      for (const name of names) dropped.push(name);
    }
    return dropped;
  }

  /** Drops every entry, dependency set and lease of a domain (fenced, SCAN); every L1 drops `<domain>:*`. */
  invalidateAll(domain: string, origin: string): Promise<number> {
    return this.dropDomains([domain], `${domain}:*`, origin);
  }

  /**
   * Drops whole domains (stale-fill-guard.ts, "A WHOLE DOMAIN AT ONCE"): fences
   * their fills first, then UNLINKs by SCAN (never KEYS) their entries and
   * dependency sets, leases and TTL confirmations, then publishes `flush` so
   * every instance drops it from L1. Returns how many entries and dependency
   * sets were dropped. Throws CacheUnavailableError part way through: calling
   * it again completes it.
   */
  async dropDomains(domains: readonly string[], flush: string, origin: string): Promise<number> {
    const bad = domains.find((d) => !DOMAIN.test(d) || d === 'cache');
    if (bad !== undefined) throw new Error(`not a cache domain: ${JSON.stringify(bad)}`);
    if (domains.length === 0) return 0;
    const n = this.names;
    await this.guard(() =>
      this.redis.cacheFenceAll(
        2 + domains.length,
        n.fenceSequence,
        n.fenceIndex,
        ...domains.map((d) => n.domainFence(d)),
        FENCE_TTL_MS,
      ),
    );
    // One SCAN of the prefix for all of it (each SCAN walks the whole keyspace, whatever its MATCH).
    const views = domains.map((d) => n.entry(`${d}:`));
    const bookkeeping = domains.flatMap((d) => [n.lease(`${d}:`), n.fresh(`${d}:`)]);
    let dropped = 0;
    await this.scan('*', async (names) => {
      const gone = names.filter((name) => views.some((p) => name.startsWith(p)));
      const alsoGone = names.filter((name) => bookkeeping.some((p) => name.startsWith(p)));
      if (gone.length + alsoGone.length > 0) await this.redis.unlink(...gone, ...alsoGone);
      dropped += gone.length;
    });
    // An InvalidationMessage (l1/invalidation-bus.ts), as the admin flush sends it.
    await this.publish({ flush, origin });
    return dropped;
  }

  /** The identity of the source the entries were read from, as last recorded (CacheSourceIdentity). */
  async recordedSourceIdentity(): Promise<string | null> {
    return this.guard(() => this.redis.get(this.names.sourceIdentity));
  }

  async recordSourceIdentity(identity: string): Promise<void> {
    await this.guard(() => this.redis.set(this.names.sourceIdentity, identity));
  }

  async publish(message: object): Promise<void> {
    await this.guard(() => this.redis.publish(this.names.invalidationChannel, JSON.stringify(message)));
  }

  /**
   * Deletes entries matching an admin pattern (adminPatternProblem) with SCAN
   * (never KEYS); returns how many. Only names adminPatternMatches accepts go:
   * entries, never dependency sets, nothing outside this prefix.
   */
  async deleteMatching(pattern: string): Promise<number> {
    let deleted = 0;
    await this.scan(pattern, async (names) => {
      const entries = this.entriesMatching(pattern, names);
      if (entries.length > 0) deleted += await this.redis.unlink(...entries);
    });
    return deleted;
  }

  /** Counts the entries an admin pattern reaches (as deleteMatching would) and their MEMORY USAGE. */
  async usage(pattern: string): Promise<UsageReport> {
    const report = { keys: 0, bytes: 0 };
    await this.scan(pattern, async (scanned) => {
      const names = this.entriesMatching(pattern, scanned);
      if (names.length === 0) return;
      const pipeline = this.redis.pipeline();
      for (const name of names) pipeline.memory('USAGE', name);
      for (const [err, bytes] of (await pipeline.exec()) ?? []) {
        if (err || bytes === null) continue; // expired between SCAN and MEMORY USAGE
        report.keys++;
        report.bytes += Number(bytes);
      }
    });
    return report;
  }

  /**
   * The names SCAN MATCH answered, checked again with our own matcher: Redis's
   * glob is not ours (it knows classes and escapes), and with an empty prefix
   * the keyspace holds whatever else shares this Redis.
   */
  private entriesMatching(pattern: string, names: string[]): string[] {
    const prefix = this.names.entryPrefix;
    return names.filter((name) => name.startsWith(prefix) && adminPatternMatches(pattern, name.slice(prefix.length)));
  }

  private async scan(pattern: string, each: (names: string[]) => Promise<void>): Promise<void> {
    await this.guard(async () => {
      let cursor = '0';
      do {
        const [next, names] = await this.redis.scan(cursor, 'MATCH', this.names.entry(pattern), 'COUNT', 1000);
        if (names.length > 0) await each(names);
        cursor = next;
      } while (cursor !== '0');
    });
  }

  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    if (!this.breaker.allow()) throw new CacheUnavailableError('redis circuit open');
    try {
      const result = await operation();
      this.breaker.success();
      return result;
    } catch (err) {
      this.errors++;
      this.breaker.failure();
      throw new CacheUnavailableError(`redis: ${(err as Error).message}`, { cause: err });
    }
  }
}
