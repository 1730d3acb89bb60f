import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { execReplicated, groupBySlot, isCluster, masterConnections, reconnectIfHung, resultsOrThrow } from '@app/redis';
import { CacheStore, FillFence, FillOptions, FillOutcome } from '../engine/cache-store';
import {
  CHECK_LUA,
  DROP_LUA,
  FENCE_DEPENDENCIES_LUA,
  FENCE_DOMAIN_LUA,
  FENCE_TTL_MS,
  FORGET_LUA,
  LEASE_LUA,
  MAX_FILL_MS,
  RESOLVE_LUA,
  SEQUENCE_LUA,
  WRITE_LUA,
} from '../engine/stale-fill-guard';
import { CacheUnavailableError } from '../model/cache-errors';
import { adminPatternMatches } from '../model/cache-key';
import { CircuitBreaker } from './circuit-breaker';
import { evictionPolicyOf, unsupportedPolicyMessage } from './eviction-policy';
import { domainOf, RedisNames } from './redis-names';

/** The fencing steps of stale-fill-guard.ts, registered as commands (each touches one hash slot). */
interface FencedCommands {
  cacheLease(
    lease: string,
    ticket: string,
    entry: string,
    token: string,
    leaseMs: number,
    unlessFilled: number,
    maxFillMs: number,
  ): Promise<number | null>;
  cacheSequence(sequence: string, maxFillMs: number): Promise<[number, number]>;
  cacheCheck(...args: (string | number)[]): Promise<number>;
  cacheWrite(
    entry: string,
    lease: string,
    ticket: string,
    token: string,
    ttlMs: number,
    value: Buffer,
    deadline: number,
  ): Promise<number>;
  cacheFenceDependencies(...args: (string | number)[]): Promise<number>;
  cacheResolve(numKeys: number, ...setsThenBookkeepingPrefix: string[]): Promise<[string[], string[], number[]]>;
  cacheForget(numKeys: number, ...setsThenPrefixAndSizes: (string | number)[]): Promise<number>;
  cacheDrop(numKeys: number, ...entriesThenBookkeepingPrefix: string[]): Promise<number>;
  cacheFenceDomain(sequence: string, domainFence: string, checked: string): Promise<string[]>;
}

type FencedRedis = Redis & FencedCommands;

/** A step queued on a client or a pipeline: `run` only sends it, `step` decides how it is awaited. */
type Queue = (target: FencedRedis) => unknown;

/** How long a write step waits for its replicas on a cluster: WAIT holds the node's one connection meanwhile. */
export const REPLICA_WAIT_MS = 250;

export interface RedisCacheStoreOptions {
  /** On a cluster: replicas that must have each write the fence rests on before it counts (REDIS_CLUSTER_WAIT_REPLICAS). */
  waitReplicas?: number;
}

/** A domain name as cacheKey() accepts it, and never the cache's own `cache:` names. */
const DOMAIN = /^[A-Za-z0-9_-]{1,128}$/;

export interface UsageReport {
  keys: number;
  bytes: number;
}

/** A resolved record I2 answered (by the dependency set it is named after), with its size then. */
export interface ResolvedRecord {
  set: string;
  size: number;
}

/** Names (keys and dependencies) per invalidation step: bounded commands, and Redis never blocked long by one script. */
export const INVALIDATE_CHUNK = 5000;

/** At most `size` items per chunk. */
function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let from = 0; from < items.length; from += size) out.push(items.slice(from, from + size));
  return out;
}

/** A step script's answer: 1 passed, -1 past its deadline, 0 fenced. */
function outcomeOf(answer: number): FillOutcome {
  return answer === 1 ? 'written' : answer === -1 ? 'expired' : 'fenced';
}

/** Items by the domain of their logical key. */
function byDomain(items: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const item of items) {
    const domain = domainOf(item);
    const list = out.get(domain);
    if (list) list.push(item);
    else out.set(domain, [item]);
  }
  return out;
}

/**
 * The cache's only I/O boundary to Redis. Every call runs under the circuit
 * breaker and turns any Redis failure into CacheUnavailableError, which callers
 * treat as "serve from the source". Fills and invalidations run the single-slot
 * steps of engine/stale-fill-guard.ts.
 */
export class RedisCacheStore implements CacheStore {
  private readonly redis: FencedRedis;
  errors = 0;
  /** Set while Redis runs an eviction policy that could make views stale (eviction-policy.ts): reads bypass L2. */
  unsupportedSetup: string | undefined;

  private readonly cluster: boolean;
  private readonly waitReplicas: number;

  constructor(
    redis: Redis,
    readonly names: RedisNames,
    readonly breaker: CircuitBreaker,
    options: RedisCacheStoreOptions = {},
  ) {
    this.cluster = isCluster(redis);
    this.waitReplicas = this.cluster ? (options.waitReplicas ?? 1) : 0;
    redis.defineCommand('cacheLease', { numberOfKeys: 3, lua: LEASE_LUA });
    redis.defineCommand('cacheSequence', { numberOfKeys: 1, lua: SEQUENCE_LUA });
    redis.defineCommand('cacheCheck', { numberOfKeys: 4, lua: CHECK_LUA });
    redis.defineCommand('cacheWrite', { numberOfKeys: 3, lua: WRITE_LUA });
    redis.defineCommand('cacheFenceDependencies', { numberOfKeys: 4, lua: FENCE_DEPENDENCIES_LUA });
    redis.defineCommand('cacheResolve', { lua: RESOLVE_LUA });
    redis.defineCommand('cacheForget', { lua: FORGET_LUA });
    redis.defineCommand('cacheDrop', { lua: DROP_LUA });
    redis.defineCommand('cacheFenceDomain', { numberOfKeys: 3, lua: FENCE_DOMAIN_LUA });
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
    // Every master: on a cluster each has its own setting, and one allkeys-* node is enough to lose a name.
    const infos = await this.guard(() => Promise.all(masterConnections(this.redis).map((node) => node.info('memory'))));
    this.unsupportedSetup = infos.map((info) => unsupportedPolicyMessage(evictionPolicyOf(info))).find(Boolean);
    return this.unsupportedSetup;
  }

  async get(key: string): Promise<Buffer | null> {
    return this.guard(() => {
      this.corkUntilNextTurn();
      return this.redis.getBuffer(this.names.entry(key));
    });
  }

  /** The socket corked for this loop turn, if any. */
  private corked: Socket | undefined;

  /**
   * Holds this connection's writes until the end of the event loop's current turn, so the GETs of every hit
   * read in one turn (one per HTTP request that became readable together) leave in one writev rather than a
   * write syscall each. What auto-pipelining does, without building a Pipeline per batch (see
   * createCacheRedis). Single Redis only: a Cluster spreads commands over one socket per node.
   */
  private corkUntilNextTurn(): void {
    if (this.corked || this.cluster) return;
    const stream = this.redis.stream as Socket | undefined;
    if (!stream || typeof stream.cork !== 'function') return;
    stream.cork();
    this.corked = stream;
    setImmediate(() => {
      this.corked = undefined;
      stream.uncork();
    });
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
   * F1 and F2 (stale-fill-guard.ts): takes the fill lease and ticket, and reads the domain's fence sequence, both
   * before the source read; undefined when another filler holds the lease or (`unlessFilled`) the entry has
   * been written meanwhile.
   */
  async acquireLease(key: string, token: string, leaseMs: number, unlessFilled = true): Promise<FillFence | undefined> {
    const n = this.names;
    const [deadline, [sequence, domainDeadline]] = await this.guard(() =>
      Promise.all([
        this.redis.cacheLease(
          n.lease(key),
          n.ticket(key),
          n.entry(key),
          token,
          leaseMs,
          unlessFilled ? 1 : 0,
          MAX_FILL_MS,
        ),
        this.redis.cacheSequence(n.fenceSequence(domainOf(key)), MAX_FILL_MS),
      ]),
    );
    return deadline === null ? undefined : { sequence, deadline, domainDeadline };
  }

  /** F3, F4 and F5 (stale-fill-guard.ts): register in the dependency sets, check the fences, write. */
  async fill(key: string, value: Buffer, options: FillOptions): Promise<FillOutcome> {
    await this.register(key, options.dependencies);
    const checked = await this.check(key, options);
    if (checked !== 'written') {
      await this.releaseLease(key, options.token);
      return checked;
    }
    return this.write(key, value, options);
  }

  /** F3: records the key in each of its view's dependency sets, before the fences are checked. */
  async register(key: string, dependencies: readonly string[]): Promise<void> {
    const domain = domainOf(key);
    const foreign = dependencies.find((d) => domainOf(d) !== domain);
    // A whole-domain drop takes a view's dependency sets with its domain (stale-fill-guard.ts).
    if (foreign !== undefined) throw new Error(`dependency ${foreign} of ${key} is not in domain ${domain}`);
    await this.guard(() => Promise.all(dependencies.map((d) => this.step((r) => r.sadd(this.names.entry(d), key)))));
  }

  /** F4: 'written' here means "may be written": no fence of the domain or of a dependency is newer than the fill. */
  async check(key: string, options: FillOptions): Promise<FillOutcome> {
    const n = this.names;
    const domain = domainOf(key);
    const [fences0, fences1] = n.dependencyFences(domain);
    const checked = await this.guard(() =>
      this.step<number>((r) =>
        r.cacheCheck(
          n.domainFence(domain),
          fences0,
          fences1,
          n.checkedFills(domain),
          options.fence.sequence,
          options.fence.domainDeadline,
          `${key}\n${options.token}`,
          ...options.dependencies,
        ),
      ),
    );
    return outcomeOf(checked);
  }

  /** F5: writes the entry if the fill's ticket is still there and its deadline has not passed. */
  async write(key: string, value: Buffer, options: FillOptions): Promise<FillOutcome> {
    const n = this.names;
    const written = await this.guard(() =>
      this.redis.cacheWrite(
        n.entry(key),
        n.lease(key),
        n.ticket(key),
        options.token,
        options.ttlMs,
        value,
        options.fence.deadline,
      ),
    );
    return outcomeOf(written);
  }

  async releaseLease(key: string, token: string): Promise<void> {
    await this.guard(async () => {
      if ((await this.redis.get(this.names.lease(key))) === token) await this.redis.del(this.names.lease(key));
    });
  }

  /**
   * I1, I2 and I3 (stale-fill-guard.ts): fences the dependencies, resolves their sets, drops the keys and the
   * views found, then publishes them for L1 (one channel message per chunk). Returns what was dropped. At most
   * INVALIDATE_CHUNK dependencies per step, so that a bulk change neither builds one huge command nor blocks
   * Redis for long in one script: larger invalidations are several rounds, one after the other (each keeps
   * the protocol's order; together they commute, and a failure part way is made good by applying the whole
   * again).
   */
  async invalidate(keys: readonly string[], dependencies: readonly string[], origin: string): Promise<string[]> {
    const dropped = new Set<string>();
    for (const [domain, deps] of byDomain(dependencies)) {
      for (const chunk of chunks(deps, INVALIDATE_CHUNK)) {
        await this.fenceDependencies(domain, chunk);
        const { views, recorded } = await this.resolve(chunk);
        await this.drop(views, origin, dropped);
        await this.forget(recorded);
      }
    }
    for (const chunk of chunks(keys, INVALIDATE_CHUNK)) await this.drop(chunk, origin, dropped);
    return [...dropped];
  }

  /** I1: a new fence sequence of the domain, set as the fence of each dependency. */
  async fenceDependencies(domain: string, dependencies: readonly string[]): Promise<void> {
    const n = this.names;
    const [fences0, fences1] = n.dependencyFences(domain);
    await this.guard(() =>
      this.step((r) =>
        r.cacheFenceDependencies(
          n.fenceSequence(domain),
          n.dependencyFenceEpoch(domain),
          fences0,
          fences1,
          FENCE_TTL_MS,
          ...dependencies,
        ),
      ),
    );
  }

  /** I2: reads and deletes dependency sets; answers the views recorded in them, and the records I4 deletes. */
  async resolve(dependencies: readonly string[]): Promise<{ views: string[]; recorded: ResolvedRecord[] }> {
    if (dependencies.length === 0) return { views: [], recorded: [] };
    const sets = dependencies.map((d) => this.names.entry(d));
    const prefix = this.names.bookkeepingPrefix;
    // A set whose deletion a failover loses only lists views again: dropping them later is harmless (no WAIT).
    const found = await this.guard(() =>
      Promise.all(
        this.groups(sets).map((group) =>
          this.step<[string[], string[], number[]]>((r) => r.cacheResolve(group.length, ...group, prefix), false),
        ),
      ),
    );
    return {
      views: [...new Set(found.flatMap(([views]) => views))],
      recorded: found.flatMap(([, sets, sizes]) => sets.map((set, i) => ({ set, size: sizes[i] }))),
    };
  }

  /** I4 (stale-fill-guard.ts): deletes the resolved records whose views have been dropped, if no I2 added to them since. */
  async forget(recorded: readonly ResolvedRecord[]): Promise<void> {
    if (recorded.length === 0) return;
    const prefix = this.names.bookkeepingPrefix;
    const sizes = new Map(recorded.map((r) => [r.set, r.size]));
    await this.guard(() =>
      Promise.all(
        this.groups(recorded.map((r) => r.set)).map((group) =>
          this.step(
            (r) => r.cacheForget(group.length, ...group, prefix, ...group.map((set) => sizes.get(set)!)),
            false,
          ),
        ),
      ),
    );
  }

  /**
   * I3: deletes entry, lease and fill ticket of each key (not in `dropped` yet), then publishes them so every
   * L1 drops them (one channel message).
   */
  async drop(keys: readonly string[], origin: string, dropped = new Set<string>()): Promise<void> {
    const fresh: string[] = [];
    for (const key of keys) {
      if (dropped.has(key)) continue;
      dropped.add(key);
      fresh.push(key);
    }
    if (fresh.length === 0) return;
    const n = this.names;
    const entries = fresh.map((k) => n.entry(k));
    // An InvalidationMessage (l1/invalidation-bus.ts).
    const message = { keys: fresh, origin };
    if (!this.cluster) {
      // One round trip: a connection runs the deletions before the message.
      await this.guard(async () => {
        const pipeline = this.redis.pipeline();
        void (pipeline as unknown as FencedCommands).cacheDrop(entries.length, ...entries, n.bookkeepingPrefix);
        void pipeline.publish(n.invalidationChannel, JSON.stringify(message));
        resultsOrThrow((await pipeline.exec()) ?? []);
      });
      return;
    }
    await this.guard(() =>
      Promise.all(
        this.groups(entries).map((group) => this.step((r) => r.cacheDrop(group.length, ...group, n.bookkeepingPrefix))),
      ),
    );
    await this.publish(message);
  }

  /** Drops every entry, dependency set and lease of a domain (fenced, SCAN); every L1 drops `<domain>:*`. */
  invalidateAll(domain: string, origin: string): Promise<number> {
    return this.dropDomains([domain], `${domain}:*`, origin);
  }

  /**
   * Drops whole domains (stale-fill-guard.ts, "A WHOLE DOMAIN AT ONCE"): fences
   * them and revokes their checked fills first, then UNLINKs by SCAN (never
   * KEYS) their entries and dependency sets, leases, tickets and TTL
   * confirmations, then publishes `flush` so every instance drops it from L1.
   * Returns how many entries and dependency sets were dropped. Throws
   * CacheUnavailableError part way through: calling it again completes it.
   */
  async dropDomains(domains: readonly string[], flush: string, origin: string): Promise<number> {
    const bad = domains.find((d) => !DOMAIN.test(d) || d === 'cache');
    if (bad !== undefined) throw new Error(`not a cache domain: ${JSON.stringify(bad)}`);
    if (domains.length === 0) return 0;
    await this.fenceDomains(domains);
    const dropped = await this.unlinkDomains(domains);
    // An InvalidationMessage (l1/invalidation-bus.ts), as the admin flush sends it.
    await this.publish({ flush, origin });
    return dropped;
  }

  /** A1 and A2: fences each domain and revokes the tickets of its checked fills that may still write. */
  async fenceDomains(domains: readonly string[]): Promise<void> {
    const n = this.names;
    await this.guard(async () => {
      for (const domain of domains) {
        const checked = await this.step<string[]>((r) =>
          r.cacheFenceDomain(n.fenceSequence(domain), n.domainFence(domain), n.checkedFills(domain)),
        );
        const tickets = checked.map((member) => n.ticket(member.slice(0, member.indexOf('\n'))));
        await Promise.all(this.groups(tickets).map((group) => this.step((r) => r.del(...group))));
      }
    });
  }

  /** A3: UNLINKs by SCAN the domains' entries, dependency sets and key bookkeeping; answers how many entries and sets. */
  async unlinkDomains(domains: readonly string[]): Promise<number> {
    const n = this.names;
    // One SCAN of the prefix for all of it (each SCAN walks the whole keyspace, whatever its MATCH).
    const views = domains.map((d) => n.entry(`${d}:`));
    const bookkeeping = domains.flatMap((d) => n.keyBookkeepingPrefixes(d));
    let dropped = 0;
    await this.scan('*', async (names) => {
      const gone = names.filter((name) => views.some((p) => name.startsWith(p)));
      const alsoGone = names.filter((name) => bookkeeping.some((p) => name.startsWith(p)));
      await Promise.all(this.groups([...gone, ...alsoGone]).map((group) => this.step((r) => r.unlink(...group))));
      dropped += gone.length;
    });
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
      for (const group of this.groups(entries)) deleted += await this.redis.unlink(...group);
    });
    return deleted;
  }

  /** Counts the entries an admin pattern reaches (as deleteMatching would) and their MEMORY USAGE. */
  async usage(pattern: string): Promise<UsageReport> {
    const report = { keys: 0, bytes: 0 };
    await this.scan(pattern, async (scanned, node) => {
      const names = this.entriesMatching(pattern, scanned);
      if (names.length === 0) return;
      // On the master that holds them (each command names the key second: no cluster routing for it).
      const sizes = await Promise.all(names.map((name) => node.memory('USAGE', name)));
      for (const bytes of sizes) {
        if (bytes === null) continue; // expired between SCAN and MEMORY USAGE
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

  /** SCAN (never KEYS) of every master: on a cluster each holds its own slots' names. */
  /** `each` gets the names and the connection of the master that holds them. */
  private async scan(pattern: string, each: (names: string[], node: Redis) => Promise<void>): Promise<void> {
    await this.guard(async () => {
      for (const node of masterConnections(this.redis)) {
        let cursor = '0';
        do {
          const [next, names] = await node.scan(cursor, 'MATCH', this.names.entry(pattern), 'COUNT', 1000);
          if (names.length > 0) await each(names, node);
          cursor = next;
        } while (cursor !== '0');
      }
    });
  }

  /** Names as one multi-key call may carry them: all together on a single server, by hash slot on a cluster. */
  private groups(names: readonly string[]): string[][] {
    if (names.length === 0) return [];
    return this.cluster ? groupBySlot(names) : [[...names]];
  }

  /**
   * Sends one step of stale-fill-guard.ts. On a cluster, a `durable` one (a write the fence rests on) is
   * followed, in the same pipeline and so on the same master, by WAIT for REDIS_CLUSTER_WAIT_REPLICAS
   * replicas: Redis replicates asynchronously, and a fence, registration or deletion that a failover loses
   * could let a stale view back in (docs/contract.md §5.10). Fewer replicas within REPLICA_WAIT_MS fails the
   * step like any Redis error.
   */
  private async step<T = unknown>(queue: Queue, durable = true): Promise<T> {
    if (!this.cluster) return (await queue(this.redis)) as T;
    // On a cluster a step is always an explicit pipeline, routed by its command's real keys: auto-pipelining
    // takes a script's first argument for its key, which for a variable key count is the count.
    const wait = { replicas: durable ? this.waitReplicas : 0, timeoutMs: REPLICA_WAIT_MS };
    const [result] = resultsOrThrow(
      await execReplicated(this.redis, wait, (pipeline) => void queue(pipeline as unknown as FencedRedis)),
    );
    return result as T;
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
      reconnectIfHung(this.redis, err);
      throw new CacheUnavailableError(`redis: ${(err as Error).message}`, { cause: err });
    }
  }
}
