import { ConfigService } from '@nestjs/config';
import { DomainCacheContext, DomainRegistry } from '@app/cache';
import { validateEnvironment } from '@app/config';
import { InvoicesCacheService } from './invoices-cache.service';
import { InvoicesSource } from './invoices.source';

/** The context as far as the constructor goes: the service registers its domain (the health route's entry). */
function context(registry = new DomainRegistry()): DomainCacheContext {
  return new DomainCacheContext(undefined as never, undefined as never, registry);
}

function service(env: Record<string, string> = {}) {
  const config = new ConfigService(validateEnvironment(env));
  return new InvoicesCacheService(context(), config as never, new InvoicesSource(config as never));
}

describe('InvoicesCacheService', () => {
  it('registers the invoices domain, which serves GET /health/invoices/cache', () => {
    const registry = new DomainRegistry();
    const config = new ConfigService(validateEnvironment({}));
    const invoices = new InvoicesCacheService(context(registry), config as never, new InvoicesSource(config as never));
    expect(invoices.domain).toBe('invoices');
    expect(registry.get('invoices')).toBe(invoices);
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
