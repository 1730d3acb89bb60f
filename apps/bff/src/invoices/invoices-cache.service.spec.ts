import { TwoTierCache } from '@app/cache';
import { InvoicesCacheService, invoicesInvalidation } from './invoices-cache.service';

const ID = '3f2c1d8e-5b7a-4c2e-9d1f-6a8b7c9d0e1f';

/** TwoTierCache as far as the constructor goes: the service registers its domain (the health route's entry). */
function twoTierCache(): TwoTierCache {
  return { registerDomain: jest.fn() } as unknown as TwoTierCache;
}

describe('InvoicesCacheService', () => {
  it('registers the invoices domain, which serves GET /health/invoices/cache', () => {
    const cache = twoTierCache();
    const service = new InvoicesCacheService(cache);
    expect(service.domain).toBe('invoices');
    expect(cache.registerDomain).toHaveBeenCalledWith(service);
  });

  it('declares the item bucket: ttl, 90 s', () => {
    const service = new InvoicesCacheService(twoTierCache());
    expect(Object.keys(service.buckets)).toEqual(['item']);
    expect(service.buckets.item.options.strategy).toBe('ttl');
    expect(service.buckets.item.ttlSeconds).toBe(90);
    expect(service.stats().ttl).toEqual({ itemSeconds: 90 });
  });

  it('invalidates exactly the changed item', () => {
    expect(invoicesInvalidation({ id: ID })).toEqual([`invoices:item:${ID}`]);
  });
});
