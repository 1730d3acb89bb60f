/**
 * Every Redis name the cache uses, all under CACHE_KEY_PREFIX so deployments
 * and test runs can share one Redis. Entries and dependency sets use the
 * logical key as is (`catalog:product:<id>`); the cache's own bookkeeping lives
 * under `cache:` (no domain may be called "cache").
 *
 * Hash slots (docs/contract.md §5.10, engine/stale-fill-guard.ts "WHERE NAMES LIVE"): a
 * key's bookkeeping carries the entry's full name as its hash tag
 * (`cache:lease:{<prefix><key>}`), so it shares the entry's slot; a domain's
 * fences carry `{<prefix><domain>}`. Keys and prefixes never contain braces
 * (cache-key.ts, CACHE_KEY_PREFIX validation), so an entry's own name has no
 * tag and hashes whole, to the same slot as the tag that repeats it.
 */
export class RedisNames {
  readonly entryPrefix: string;
  readonly invalidationChannel: string;
  /** Barriers and their acknowledgements (InvalidationBus.barrier): only cachegate instances subscribe to it. */
  readonly barrierChannel: string;
  /** The identity of the database the entries were read from (CacheSourceIdentity). */
  readonly sourceIdentity: string;

  constructor(readonly prefix: string) {
    this.entryPrefix = prefix;
    this.invalidationChannel = `${prefix}cache:invalidations`;
    this.barrierChannel = `${prefix}cache:barriers`;
    this.sourceIdentity = `${prefix}cache:db-identity`;
  }

  entry(key: string): string {
    return this.entryPrefix + key;
  }

  /** The fill lease: one filler per key across instances. */
  lease(key: string): string {
    return this.keyBookkeeping('lease', key);
  }

  /** The fill ticket: the token of the fill that may still write the key (deleted by every invalidation of it). */
  ticket(key: string): string {
    return this.keyBookkeeping('fill', key);
  }

  /** When a TTL entry was last confirmed by its source (a 304 moves this, not the entry). */
  fresh(key: string): string {
    return this.keyBookkeeping('fresh', key);
  }

  /** The prefixes of every bookkeeping name of a domain's keys, for a whole-domain drop by SCAN. */
  keyBookkeepingPrefixes(domain: string): string[] {
    return ['lease', 'fill', 'fresh'].map((kind) => `${this.prefix}cache:${kind}:{${this.entry(`${domain}:`)}`);
  }

  /** The domain's fence sequence, INCRed by each of its invalidations. */
  fenceSequence(domain: string): string {
    return this.domainName(domain, 'fence-seq');
  }

  /** The sequence of the domain's last whole-domain drop. */
  domainFence(domain: string): string {
    return this.domainName(domain, 'domain-fence');
  }

  /** The epoch (Redis ms / FENCE_TTL_MS) of the newest dependency fence. */
  dependencyFenceEpoch(domain: string): string {
    return this.domainName(domain, 'dep-fence-epoch');
  }

  /** The two hashes of dependency fences (dependency name → sequence), by epoch parity. */
  dependencyFences(domain: string): [string, string] {
    return [this.domainName(domain, 'dep-fences:0'), this.domainName(domain, 'dep-fences:1')];
  }

  /** Fills that passed their check and may still write (`<key>\n<token>`, scored by deadline). */
  checkedFills(domain: string): string {
    return this.domainName(domain, 'checked-fills');
  }

  /** What a key's lease, ticket and fresh names start with, before `<kind>:{<entry>}` (DROP_LUA builds them). */
  get bookkeepingPrefix(): string {
    return `${this.prefix}cache:`;
  }

  private keyBookkeeping(kind: string, key: string): string {
    return `${this.bookkeepingPrefix}${kind}:{${this.entry(key)}}`;
  }

  private domainName(domain: string, what: string): string {
    return `${this.prefix}cache:{${this.prefix}${domain}}:${what}`;
  }
}

/** The domain of a logical key: `catalog:product:<id>` → `catalog`. */
export function domainOf(key: string): string {
  const end = key.indexOf(':');
  return end < 0 ? key : key.slice(0, end);
}
