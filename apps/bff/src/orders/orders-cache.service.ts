import { Injectable } from '@nestjs/common';
import { DomainCache, TwoTierCache } from '@app/cache';
import { ORDERS, ordersKeys as keys } from './orders.keys';

/** An order (or one of its items) changed; `accountIds` holds the owner before and after. */
export interface OrderChange {
  id: string;
  accountIds: string[];
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
  constructor(cache: TwoTierCache) {
    super(cache, ORDERS, {
      detail: { strategy: 'cdc', sensitive: true },
      summaries: { strategy: 'cdc', sensitive: true },
    });
  }

  async changed(change: OrderChange): Promise<void> {
    await this.invalidateOrWarn(ordersInvalidation(change));
  }
}
