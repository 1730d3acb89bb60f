import type { CdcEvent } from '@app/cdc';
import { orderChangeFromEvent, ordersInvalidation, ordersInvalidationOf } from './orders-cache.service';

const O = '0f8fad5b-d9cb-469f-a165-70867728950e';

const event = (data: Record<string, unknown>, aggregate = 'order', kind = 'updated'): CdcEvent => ({
  id: 'e1',
  type: `orders.${aggregate}.${kind}`,
  messageVersion: 1,
  schemaVersion: 1,
  source: 'postgres:orders.order_items',
  occurredAt: new Date().toISOString(),
  aggregate: { type: aggregate, id: kind === 'truncated' ? '*' : O },
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

  it('drops every orders view when orders (or their items) are truncated', () => {
    const change = orderChangeFromEvent(event({}, 'order', 'truncated'));
    expect(change).toEqual({ all: true });
    expect(ordersInvalidation(change!)).toBe('all');
  });

  it('ignores other aggregates', () => {
    expect(orderChangeFromEvent(event({}, 'shipment'))).toBeUndefined();
    expect(orderChangeFromEvent(event({}, 'shipment', 'truncated'))).toBeUndefined();
  });
});

describe('orders CDC batches', () => {
  it('maps an event to its keys plus the keys its publisher named, or to every order view', () => {
    expect(ordersInvalidationOf({ ...event({ accountId: 'acme' }), keys: ['orders:account:other'] })).toEqual({
      keys: [`orders:detail:${O}`, 'orders:account:acme', 'orders:account:other'],
      all: undefined,
    });
    expect(ordersInvalidationOf(event({}, 'order', 'truncated'))).toEqual({ keys: [], all: true });
    expect(ordersInvalidationOf(event({}, 'note'))).toEqual({ keys: [], all: undefined });
  });
});
