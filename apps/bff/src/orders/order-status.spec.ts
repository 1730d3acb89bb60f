import { canTransition, holdsReservedStock, itemsEditable, ORDER_STATUSES, OrderStatus } from './order-status';

describe('order status rules', () => {
  const allowed = new Set(['pending>paid', 'paid>shipped', 'shipped>delivered', 'pending>cancelled', 'paid>cancelled']);

  it.each(ORDER_STATUSES.flatMap((from) => ORDER_STATUSES.map((to) => [from, to] as [OrderStatus, OrderStatus])))(
    '%s → %s follows the allowed list',
    (from, to) => {
      expect(canTransition(from, to)).toBe(allowed.has(`${from}>${to}`));
    },
  );

  it('lets items change only while pending', () => {
    expect(ORDER_STATUSES.filter(itemsEditable)).toEqual(['pending']);
  });

  it('holds reserved stock until shipped or cancelled', () => {
    expect(ORDER_STATUSES.filter(holdsReservedStock)).toEqual(['pending', 'paid']);
  });
});
