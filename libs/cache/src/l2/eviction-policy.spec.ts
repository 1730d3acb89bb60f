import { evictionPolicyOf, SUPPORTED_POLICIES, unsupportedPolicyMessage } from './eviction-policy';

describe('eviction policy', () => {
  it('reads the policy from INFO memory', () => {
    const info =
      '# Memory\r\nused_memory:1024\r\nmaxmemory:0\r\nmaxmemory_policy:allkeys-lru\r\nmem_fragmentation_ratio:1.2\r\n';
    expect(evictionPolicyOf(info)).toBe('allkeys-lru');
    expect(evictionPolicyOf('# Memory\r\n')).toBeUndefined();
  });

  it('accepts the policies that never evict a name without TTL, and noeviction', () => {
    for (const policy of SUPPORTED_POLICIES) expect(unsupportedPolicyMessage(policy)).toBeUndefined();
  });

  it('refuses policies that may evict dependency sets and fence markers, naming the fix', () => {
    for (const policy of ['allkeys-lru', 'allkeys-lfu', 'allkeys-random']) {
      expect(unsupportedPolicyMessage(policy)).toContain(`maxmemory-policy ${policy}`);
      expect(unsupportedPolicyMessage(policy)).toContain('volatile-lru');
    }
  });
});
