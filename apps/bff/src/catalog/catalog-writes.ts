import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { CdcEvent, ownChanges } from '@app/cdc';
import { IdempotencyContext } from '../idempotency/idempotency-key';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { CatalogCacheService } from './catalog-cache.service';
import { CATALOG } from './catalog.keys';

/**
 * How the catalog's API writes run: one transaction (after the Idempotency-Key's claim, when there is
 * one) and, once it has committed, the invalidation of what it changed before the answer leaves
 * (docs/contract.md §6.5, read-your-writes). The events applied are the transaction's own outbox rows,
 * read back inside it: the same events, mapped the same way, as the CDC consumer applies again moments
 * later on every instance, so a write through the API is never followed by a read of the old view,
 * here or on another instance, while writes made elsewhere keep the CDC lag.
 *
 * If Redis fails the write still answers its success (it has committed): CDC drops the views as it
 * does for any other write, and the failure is logged.
 */
@Injectable()
export class CatalogWrites {
  private readonly logger = new Logger('CatalogWrites');

  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly cache: CatalogCacheService,
  ) {}

  async run<T>(work: (em: EntityManager) => Promise<T>, idempotency?: IdempotencyContext): Promise<T> {
    let events: CdcEvent[] = [];
    const result = await this.idempotency.transaction(idempotency, async (em) => {
      const query = (sql: string, parameters: unknown[]) => em.query(sql, parameters) as Promise<unknown[]>;
      const mark = await ownChanges.mark(query);
      const value = await work(em);
      events = await ownChanges.since(query, mark, CATALOG);
      return value;
    });
    if (events.length > 0) {
      await this.cache.applyEvents(events).catch((err: unknown) => {
        this.logger.warn(
          `${events.length} committed change(s) not invalidated before answering (${(err as Error).message}); ` +
            'CDC drops their views',
        );
      });
    }
    return result;
  }
}
