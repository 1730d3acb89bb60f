import { Injectable } from '@nestjs/common';
import { DomainCache, DomainCacheContext, Invalidation } from '@app/cache';
import type { CdcEvent } from '@app/cdc';
import { ORDERS, ordersKeys as keys } from './orders.keys';

/**
 * An order (or one of its items) changed; `accountIds` holds the owner before
 * and after. `all`: every order changed (orders.orders or orders.order_items
 * was truncated).
 */
export type OrderChange = { id: string; accountIds: string[] } | { all: true };

/** Reads an orders CDC event: the order id and its account before and after, or every order (`truncated`). */
export function orderChangeFromEvent(event: CdcEvent): OrderChange | undefined {
  if (event.aggregate.type !== 'order') return undefined;
  if (event.type.endsWith('.truncated')) return { all: true };
  const data = event.data as { accountId?: unknown; previousAccountId?: unknown };
  const accountIds = [data.accountId, data.previousAccountId].filter((a): a is string => typeof a === 'string');
  return { id: event.aggregate.id, accountIds };
}

/** The keys a change makes stale, or `all`: every view of the domain. */
export function ordersInvalidation(change: OrderChange): string[] | 'all' {
  if ('all' in change) return 'all';
  return [keys.detail(change.id), ...new Set(change.accountIds.map(keys.account))];
}

/** What one orders CDC event makes stale (pure): its change's keys, or every order view, plus its explicit keys. */
export function ordersInvalidationOf(event: CdcEvent): Invalidation {
  const change = orderChangeFromEvent(event);
  const stale = change ? ordersInvalidation(change) : [];
  const keys = stale === 'all' ? [] : stale;
  return { keys: event.keys ? [...keys, ...event.keys] : keys, all: stale === 'all' || undefined };
}

/**
 * The orders buckets (docs/contract.md §5.2). Both hold personal data (customerEmail,
 * shippingAddress in details; the summaries reveal an account's activity), so
 * both are encrypted in Redis.
 */
@Injectable()
export class OrdersCacheService extends DomainCache<'detail' | 'summaries'> {
  constructor(context: DomainCacheContext) {
    super(context, ORDERS, {
      detail: { strategy: 'cdc', sensitive: true },
      summaries: { strategy: 'cdc', sensitive: true },
    });
  }

  /** Drops what order change events make stale, as one invalidation (the CDC handler and the API's own writes). */
  async applyEvents(events: readonly CdcEvent[]): Promise<void> {
    await this.invalidateBatch(events.map(ordersInvalidationOf));
  }

  /** Applies one change. Throws when Redis cannot be reached. (CDC batches: invalidateBatch.) */
  async apply(change: OrderChange | undefined, explicitKeys: readonly string[] = []): Promise<void> {
    const stale = change ? ordersInvalidation(change) : [];
    await this.invalidateBatch([stale === 'all' ? { keys: [], all: true } : { keys: stale }, { keys: explicitKeys }]);
  }
}
