import {
  ADMIN_PATTERN_MAX_LENGTH,
  adminPatternMatches,
  adminPatternProblem,
  cacheKey,
  dependencyKey,
  InvalidCacheKeyError,
  isAdminPattern,
  patternSegment,
  uuidSegment,
} from './cache-key';

describe('cache keys', () => {
  it('joins validated segments', () => {
    expect(cacheKey('catalog', 'product', 'abc-1')).toBe('catalog:product:abc-1');
    expect(cacheKey('catalog', 'categories')).toBe('catalog:categories');
    expect(cacheKey('orders', 'detail', 'x', 'y')).toBe('orders:detail:x:y');
    expect(dependencyKey('catalog', 'product', 'p1')).toBe('catalog:deps:product:p1');
  });

  it.each(['*', 'a*', 'a?', '[a]', 'a b', 'orders:detail:x', '', 'a\nb', 'x'.repeat(129)])(
    'refuses identifier %j',
    (bad) => {
      expect(() => cacheKey('catalog', 'product', bad)).toThrow(InvalidCacheKeyError);
    },
  );

  it('refuses non-strings', () => {
    expect(() => cacheKey('catalog', 'product', 42)).toThrow(InvalidCacheKeyError);
    expect(() => cacheKey('catalog', 'product', ['a'])).toThrow(InvalidCacheKeyError);
  });

  it('canonicalises UUIDs to lower case and refuses anything else', () => {
    expect(uuidSegment('0F8FAD5B-D9CB-469F-A165-70867728950E')).toBe('0f8fad5b-d9cb-469f-a165-70867728950e');
    expect(() => uuidSegment('not-a-uuid')).toThrow(InvalidCacheKeyError);
    expect(() => uuidSegment('0f8fad5b-d9cb-469f-a165-70867728950e*')).toThrow(InvalidCacheKeyError);
  });

  it('checks domain patterns', () => {
    expect(patternSegment('tea', /^[a-z0-9-]{1,64}$/)).toBe('tea');
    expect(() => patternSegment('Tea!', /^[a-z0-9-]{1,64}$/)).toThrow(InvalidCacheKeyError);
  });

  describe('admin patterns', () => {
    const DOMAINS = ['catalog', 'orders', 'invoices'];
    const accepted = (pattern: unknown) => adminPatternProblem(pattern, DOMAINS);

    it('accepts patterns inside one of the registered domains', () => {
      for (const pattern of ['orders:*', 'catalog:product:*', 'invoices:account:acc-?', 'catalog:d?ps*', 'orders:x']) {
        expect([pattern, accepted(pattern)]).toEqual([pattern, undefined]);
      }
      expect(isAdminPattern('orders:*', DOMAINS)).toBe(true);
    });

    it.each([
      ['*', "cache domains (catalog, orders, invoices) and ':'"],
      ['adv:*', "cache domains (catalog, orders, invoices) and ':'"], // another deployment's (or nobody's) domain
      ['cdc*', "cache domains (catalog, orders, invoices) and ':'"], // the CDC streams
      ['cdc.catalog.v1', 'may contain only'],
      ['cache:*', "cache domains (catalog, orders, invoices) and ':'"], // the cache's own names
      ['cache:lease:*', "cache domains (catalog, orders, invoices) and ':'"],
      ['*:product:*', "cache domains (catalog, orders, invoices) and ':'"],
      ['catal?g:*', "cache domains (catalog, orders, invoices) and ':'"],
      ['orders', "cache domains (catalog, orders, invoices) and ':'"],
      ['orders:', "cache domains (catalog, orders, invoices) and ':'"],
      ['Orders:*', "cache domains (catalog, orders, invoices) and ':'"],
      ['catalog:deps:*', 'dependency sets (catalog:deps:*) cannot be flushed'],
      ['catalog:deps:product:1', 'dependency sets'],
      ['orders:[a]*', 'may contain only'],
      ['orders: *', 'may contain only'],
      ['orders:\\*', 'may contain only'],
      ['orders:*\n', 'may contain only'],
      ['', 'pattern is required'],
    ])('refuses %j, saying why', (pattern, why) => {
      expect(accepted(pattern)).toContain(why);
      expect(isAdminPattern(pattern, DOMAINS)).toBe(false);
    });

    it('refuses non-strings', () => {
      expect(accepted(undefined)).toBe('pattern is required (e.g. orders:*)');
      expect(accepted(['orders:*'])).toBe('pattern is required (e.g. orders:*)');
    });

    it('allows 256 characters and 8 wildcards, not 257 nor 9', () => {
      const longest = `catalog:${'a'.repeat(248)}`;
      expect(longest).toHaveLength(ADMIN_PATTERN_MAX_LENGTH);
      expect(accepted(longest)).toBeUndefined();
      expect(accepted(`${longest}a`)).toBe('pattern is 257 characters long; at most 256 are allowed');
      expect(accepted(`catalog:${'a'.repeat(10_000)}`)).toContain('at most 256 are allowed');
      expect(accepted('catalog:*a?a*a*a*a*a*b*')).toBeUndefined();
      expect(accepted('catalog:*a?a*a*a*a*a*b*?')).toBe('pattern has 9 wildcards (* or ?); at most 8 are allowed');
    });

    it('only accepts a domain that is registered', () => {
      expect(adminPatternProblem('billing:*', DOMAINS)).toBeDefined();
      expect(adminPatternProblem('billing:*', [...DOMAINS, 'billing'])).toBeUndefined();
      expect(adminPatternProblem('cache:*', [...DOMAINS, 'cache'])).toBeDefined();
    });

    it('reaches entries only: the glob must match, and dependency sets and odd shapes are left alone', () => {
      expect(adminPatternMatches('catalog:*', 'catalog:product:p1')).toBe(true);
      expect(adminPatternMatches('catalog:*', 'catalog:categories')).toBe(true);
      expect(adminPatternMatches('orders:detail:*', 'orders:detail:o1:v2')).toBe(true);
      expect(adminPatternMatches('orders:detail:*', 'orders:account:a1')).toBe(false);
      expect(adminPatternMatches('catalog:*', 'catalog:deps:product:p1')).toBe(false);
      expect(adminPatternMatches('catalog:d?ps:*', 'catalog:deps:category:c1')).toBe(false);
      // Not shaped like a key: a name of something else sharing the prefix, or one Redis's glob let through.
      expect(adminPatternMatches('catalog:*', 'catalog:a:b:c:d')).toBe(false);
      expect(adminPatternMatches('catalog:*', 'catalog:')).toBe(false);
      expect(adminPatternMatches('catalog:*', 'catalog:a b')).toBe(false);
      expect(adminPatternMatches('catalog:*', 'catalog::x')).toBe(false);
      expect(adminPatternMatches('catalog:*', 'adv:catalog:product:p1')).toBe(false);
    });
  });
});
