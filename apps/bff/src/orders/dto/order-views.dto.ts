import { ApiProperty } from '@nestjs/swagger';
import { ACCOUNT_ID_PATTERN, CURRENCY_PATTERN } from '@app/http';
import { ORDER_STATUSES, OrderStatus } from '../order-status';
import { OrderItemView, OrderSummaryView, OrderView } from '../orders.views';
import { MAX_ITEM_QUANTITY, ShippingAddress } from './create-order.dto';

/**
 * The orders' answers as OpenAPI schemas (the swagger plugin reads these
 * classes, not the view interfaces). Each implements its view, and the
 * controller returns these types, so a field added to or dropped from a view
 * does not compile until its schema follows.
 */

export class OrderItemResponse implements OrderItemView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'uuid' })
  productId: string;

  /** The product's sku at order time. */
  sku: string;

  /** The product's name at order time. */
  name: string;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_ITEM_QUANTITY })
  quantity: number;

  /** The product's price at order time. */
  @ApiProperty({ type: 'integer', minimum: 0 })
  unitPriceCents: number;
}

export class OrderResponse implements OrderView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ pattern: ACCOUNT_ID_PATTERN.source })
  accountId: string;

  @ApiProperty({ enum: [...ORDER_STATUSES] })
  status: OrderStatus;

  @ApiProperty({ pattern: CURRENCY_PATTERN.source })
  currency: string;

  customerEmail: string;
  shippingAddress: ShippingAddress;

  /** Sum of quantity × unitPriceCents over the items. */
  @ApiProperty({ type: 'integer', minimum: 0 })
  totalCents: number;

  /** Bumped by every update of the row; the ETag changes with it. */
  @ApiProperty({ type: 'integer' })
  version: number;

  items: OrderItemResponse[];
  createdAt: Date;
  updatedAt: Date;
}

export class OrderSummaryResponse implements OrderSummaryView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ enum: [...ORDER_STATUSES] })
  status: OrderStatus;

  @ApiProperty({ type: 'integer', minimum: 0 })
  totalCents: number;

  @ApiProperty({ pattern: CURRENCY_PATTERN.source })
  currency: string;

  /** Number of item rows. */
  @ApiProperty({ type: 'integer', minimum: 0 })
  itemCount: number;

  createdAt: Date;
}
