import { Injectable } from '@nestjs/common';
import { DomainCache, DomainCacheContext } from '@app/cache';
import type { CdcEvent } from '@app/cdc';
import { ORDERS, ordersKeys as keys } from './orders.keys';

/** An order (or one of its items) changed; `accountIds` holds the owner before and after. */
export interface OrderChange {
  id: string;
  accountIds: string[];
}

/** Reads an orders CDC event: the order id and its account before and after. */
export function orderChangeFromEvent(event: CdcEvent): OrderChange | undefined {
  if (event.aggregate.type !== 'order') return undefined;
  const data = event.data as { accountId?: unknown; previousAccountId?: unknown };
  const accountIds = [data.accountId, data.previousAccountId].filter((a): a is string => typeof a === 'string');
  return { id: event.aggregate.id, accountIds };
}

export function ordersInvalidation(change: OrderChange): string[] {
  return [keys.detail(change.id), ...new Set(change.accountIds.map(keys.account))];
}

/**
 * The orders buckets (SPEC §5.2). Both hold personal data (customerEmail,
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

  /** Applies a change (from a CDC event). Throws when Redis cannot be reached. */
  async apply(change: OrderChange | undefined, explicitKeys: readonly string[] = []): Promise<void> {
    await this.invalidate([...(change ? ordersInvalidation(change) : []), ...explicitKeys]);
  }
}
