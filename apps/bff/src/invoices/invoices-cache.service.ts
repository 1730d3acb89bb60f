import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { CacheRead, DomainCache, DomainCacheContext } from '@app/cache';
import type { EnvironmentVariables } from '@app/config';
import { INVOICES, invoicesKeys as keys } from './invoices.keys';
import { InvoicesSource } from './invoices.source';

/**
 * The invoices bucket (docs/contract.md §5.2): `account`, a TTL (INVOICES_TTL_SECONDS)
 * with revalidation against apps/billing, which has no CDC. Expired entries
 * are served for INVOICES_GRACE_SECONDS more while billing is failing.
 */
@Injectable()
export class InvoicesCacheService extends DomainCache<'account'> {
  constructor(
    context: DomainCacheContext,
    config: ConfigService<EnvironmentVariables, true>,
    private readonly source: InvoicesSource,
  ) {
    super(context, INVOICES, {
      account: {
        strategy: 'ttl',
        ttlSeconds: config.get('INVOICES_TTL_SECONDS'),
        graceSeconds: config.get('INVOICES_GRACE_SECONDS'),
      },
    });
  }

  accountInvoices(accountId: string): Promise<CacheRead> {
    return this.readRevalidating('account', keys.account(accountId), (etag) =>
      this.source.accountInvoices(accountId, etag),
    );
  }
}
