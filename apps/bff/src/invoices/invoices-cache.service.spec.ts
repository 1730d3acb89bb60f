import { ConfigService } from '@nestjs/config';
import { TwoTierCache } from '@app/cache';
import { validateEnvironment } from '@app/config';
import { InvoicesCacheService } from './invoices-cache.service';
import { InvoicesSource } from './invoices.source';

/** TwoTierCache as far as the constructor goes: the service registers its domain (the health route's entry). */
function twoTierCache(): TwoTierCache {
  return { registerDomain: jest.fn() } as unknown as TwoTierCache;
}

function service(env: Record<string, string> = {}) {
  const config = new ConfigService(validateEnvironment(env));
  return new InvoicesCacheService(twoTierCache(), config as never, new InvoicesSource(config as never));
}

describe('InvoicesCacheService', () => {
  it('registers the invoices domain, which serves GET /health/invoices/cache', () => {
    const cache = twoTierCache();
    const config = new ConfigService(validateEnvironment({}));
    const invoices = new InvoicesCacheService(cache, config as never, new InvoicesSource(config as never));
    expect(invoices.domain).toBe('invoices');
    expect(cache.registerDomain).toHaveBeenCalledWith(invoices);
  });

  it('declares the account bucket: ttl with the configured TTL and grace', () => {
    const invoices = service({ INVOICES_TTL_SECONDS: '30', INVOICES_GRACE_SECONDS: '120' });
    expect(Object.keys(invoices.buckets)).toEqual(['account']);
    expect(invoices.buckets.account.options.strategy).toBe('ttl');
    expect(invoices.buckets.account.ttlMs).toBe(30_000);
    expect(invoices.buckets.account.retentionMs).toBe(150_000);
    expect(invoices.stats().ttl).toEqual({ accountSeconds: 30 });
  });

  it('defaults to a 90 s TTL', () => {
    expect(service().stats().ttl).toEqual({ accountSeconds: 90 });
  });
});
