import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { InvalidationBus } from '@app/cache';
import { CdcEvent, ownChanges } from '@app/cdc';
import { CatalogCacheService } from '../catalog/catalog-cache.service';
import { IdempotencyContext } from '../idempotency/idempotency-key';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { OrdersCacheService } from '../orders/orders-cache.service';

/** What a domain's CDC handler does with a batch of its events; the API's own writes do the same. */
export interface ChangeApplier {
  applyEvents(events: readonly CdcEvent[]): Promise<void>;
}

/**
 * How the BFF's API writes run: one transaction (after the Idempotency-Key's claim, when there is
 * one) and, once it has committed, the invalidation of what it changed before the answer leaves
 * (docs/contract.md §6.5, read-your-writes). The events applied are the transaction's own outbox
 * rows, read back inside it: the same events, mapped by the same domain code, as the CDC consumer
 * applies again moments later on every instance. So a write through the API is never followed by a
 * read of the old view on any instance: the answer waits for every instance to acknowledge a barrier
 * sent behind the invalidation (InvalidationBus.barrier); writes made elsewhere keep the CDC lag. An order write changes both
 * domains (its order and the stock it reserves): each domain's events go to its own cache.
 *
 * If Redis fails the write still answers its success (it has committed): CDC drops the views as it
 * does for any other write, and the failure is logged.
 */
@Injectable()
export class OwnWrites {
  private readonly logger = new Logger('OwnWrites');
  private readonly appliers: Record<string, ChangeApplier>;

  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly bus: InvalidationBus,
    catalog: CatalogCacheService,
    orders: OrdersCacheService,
  ) {
    this.appliers = { catalog, orders };
  }

  async run<T>(work: (em: EntityManager) => Promise<T>, idempotency?: IdempotencyContext): Promise<T> {
    let events: CdcEvent[] = [];
    const result = await this.idempotency.transaction(idempotency, async (em) => {
      const query = (sql: string, parameters: unknown[]) => em.query(sql, parameters) as Promise<unknown[]>;
      const mark = await ownChanges.mark(query);
      const value = await work(em);
      events = await ownChanges.since(query, mark);
      return value;
    });
    await Promise.all(
      [...groupByDomain(events)].map(([domain, batch]) =>
        this.appliers[domain]?.applyEvents(batch).catch((err: unknown) => {
          this.logger.warn(
            `${batch.length} committed ${domain} change(s) not invalidated before answering ` +
              `(${(err as Error).message}); CDC drops their views`,
          );
        }),
      ),
    );
    // Answered only once every instance has applied it (or, hung, has stopped answering from L1).
    if (events.length > 0) await this.bus.barrier();
    return result;
  }
}

/** Events by the domain their type names (`<domain>.<aggregate>.<kind>`), in capture order. */
function groupByDomain(events: readonly CdcEvent[]): Map<string, CdcEvent[]> {
  const byDomain = new Map<string, CdcEvent[]>();
  for (const event of events) {
    const domain = event.type.slice(0, event.type.indexOf('.'));
    let batch = byDomain.get(domain);
    if (!batch) byDomain.set(domain, (batch = []));
    batch.push(event);
  }
  return byDomain;
}
