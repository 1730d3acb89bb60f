/**
 * Which Redis eviction policies keep the cache exact (docs/contract.md §5.5.1).
 *
 * Correctness rests on names that must outlive what depends on them: the
 * dependency sets (a change finds the views built from it there), the fence
 * sequence and the fence markers (a fill that raced an invalidation is
 * refused by them). None of them has a TTL, so the `volatile-*` policies,
 * which evict only names with a TTL, never touch them: losing an entry (TTL
 * buckets, or cdc buckets given a safety TTL) is only a miss. `noeviction`
 * evicts nothing (writes are refused when memory is full; invalidation still
 * runs, its script is allowed to). The `allkeys-*` policies may evict a
 * dependency set while its views stay cached, after which a change finds
 * nothing to drop: those are refused.
 */
export const SUPPORTED_POLICIES = ['noeviction', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'];

/** The `maxmemory_policy` line of `INFO memory` (CONFIG GET may be disabled on managed Redis). */
export function evictionPolicyOf(infoMemory: string): string | undefined {
  return /^maxmemory_policy:(\S+)/m.exec(infoMemory)?.[1];
}

/** Undefined when the policy is supported, else the one line that says what to change. */
export function unsupportedPolicyMessage(policy: string | undefined): string | undefined {
  if (policy === undefined || SUPPORTED_POLICIES.includes(policy)) return undefined;
  return (
    `Redis maxmemory-policy ${policy} may evict the dependency sets and fence markers that keep cached views ` +
    `exact; use one of ${SUPPORTED_POLICIES.join(', ')} (e.g. CONFIG SET maxmemory-policy volatile-lru)`
  );
}
