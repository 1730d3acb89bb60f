import { OrderItemEntity } from './entities/order-item.entity';
import { OrderEntity } from './entities/order.entity';
import type { ShippingAddress } from './dto/create-order.dto';
import type { OrderStatus } from './order-status';

/** The JSON shapes the orders API answers with (docs/contract.md §3), and the mapper that builds them. */

export interface OrderItemView {
  id: string;
  productId: string;
  sku: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
}

export interface OrderView {
  id: string;
  accountId: string;
  status: OrderStatus;
  currency: string;
  customerEmail: string;
  shippingAddress: ShippingAddress;
  totalCents: number;
  version: number;
  items: OrderItemView[];
  createdAt: Date;
  updatedAt: Date;
}

export interface OrderSummaryView {
  id: string;
  status: OrderStatus;
  totalCents: number;
  currency: string;
  /** Number of item rows. */
  itemCount: number;
  createdAt: Date;
}

export function toOrderView(o: OrderEntity, items: OrderItemEntity[]): OrderView {
  return {
    id: o.id,
    accountId: o.accountId,
    status: o.status,
    currency: o.currency,
    customerEmail: o.customerEmail,
    shippingAddress: o.shippingAddress,
    totalCents: o.totalCents,
    version: o.version,
    items: items.map((i) => ({
      id: i.id,
      productId: i.productId,
      sku: i.sku,
      name: i.name,
      quantity: i.quantity,
      unitPriceCents: i.unitPriceCents,
    })),
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
  };
}
