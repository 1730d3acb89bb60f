import { Injectable } from '@nestjs/common';
import { DomainCache, TwoTierCache } from '@app/cache';
import { INVOICES, invoicesKeys as keys } from './invoices.keys';

/** A invoices item changed (inserted, updated or deleted). */
export interface InvoicesChange {
  id: string;
}

/** The keys a change makes stale; only those. */
export function invoicesInvalidation(change: InvoicesChange): string[] {
  return [keys.item(change.id)];
}

/**
 * The invoices buckets (SPEC §5.2). `item`: a 90 s TTL, then the source is read again (no CDC).
 */
@Injectable()
export class InvoicesCacheService extends DomainCache<'item'> {
  constructor(cache: TwoTierCache) {
    super(cache, INVOICES, {
      item: { strategy: 'ttl', ttlSeconds: 90 },
    });
  }

  /** For writers in this process, after their commit: drops what the change makes stale, never failing the write. */
  async changed(change: InvoicesChange): Promise<void> {
    await this.invalidateOrWarn(invoicesInvalidation(change));
  }
}
