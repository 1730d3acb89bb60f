import type { CdcEvent } from '@app/cdc';
import { orderChangeFromEvent, ordersInvalidation } from './orders-cache.service';

const O = '0f8fad5b-d9cb-469f-a165-70867728950e';

const event = (data: Record<string, unknown>, aggregate = 'order'): CdcEvent => ({
  id: 'e1',
  type: `orders.${aggregate}.updated`,
  messageVersion: 1,
  schemaVersion: 1,
  source: 'postgres:orders.order_items',
  occurredAt: new Date().toISOString(),
  aggregate: { type: aggregate, id: O },
  data,
});

describe('orders invalidation mapping', () => {
  it('drops the order and its account summaries', () => {
    expect(ordersInvalidation(orderChangeFromEvent(event({ accountId: 'acme' }))!)).toEqual([
      `orders:detail:${O}`,
      'orders:account:acme',
    ]);
  });

  it('drops both accounts when an order changes hands', () => {
    expect(ordersInvalidation(orderChangeFromEvent(event({ accountId: 'b', previousAccountId: 'a' }))!)).toEqual([
      `orders:detail:${O}`,
      'orders:account:b',
      'orders:account:a',
    ]);
  });

  it('ignores other aggregates', () => {
    expect(orderChangeFromEvent(event({}, 'shipment'))).toBeUndefined();
  });
});
