export const ORDER_STATUSES = ['pending', 'paid', 'shipped', 'delivered', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

const NEXT: Record<OrderStatus, readonly OrderStatus[]> = {
  pending: ['paid', 'cancelled'],
  paid: ['shipped', 'cancelled'],
  shipped: ['delivered'],
  delivered: [],
  cancelled: [],
};

/** pending→paid→shipped→delivered, and pending/paid→cancelled; nothing else (not even "stay"). */
export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return NEXT[from].includes(to);
}

/** Items can change only while nothing has been paid or shipped. */
export function itemsEditable(status: OrderStatus): boolean {
  return status === 'pending';
}

/** Stock stays reserved until the goods leave; a cancelled or deleted unshipped order gives it back. */
export function holdsReservedStock(status: OrderStatus): boolean {
  return status === 'pending' || status === 'paid';
}
