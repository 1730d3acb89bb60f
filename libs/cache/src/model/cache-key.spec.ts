import {
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

  it('accepts admin patterns within one domain only', () => {
    expect(isAdminPattern('orders:*')).toBe(true);
    expect(isAdminPattern('catalog:product:*')).toBe(true);
    expect(isAdminPattern('*')).toBe(false);
    expect(isAdminPattern('cache:lease:*')).toBe(false); // the cache's own bookkeeping
    expect(isAdminPattern('orders:[a]*')).toBe(false);
    expect(isAdminPattern('orders: *')).toBe(false);
  });
});
