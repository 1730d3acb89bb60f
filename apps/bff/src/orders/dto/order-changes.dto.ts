import { IsIn, IsUUID, Max, Min } from 'class-validator';
import { IsInteger, LowerCase } from '@app/http';
import { ORDER_STATUSES, OrderStatus } from '../order-status';
import { MAX_ITEM_QUANTITY, OrderLineDto } from './create-order.dto';

export class ChangeOrderStatusDto {
  @IsIn(ORDER_STATUSES)
  status: OrderStatus;
}

export class AddOrderItemDto extends OrderLineDto {}

export class ChangeOrderItemDto {
  @IsInteger()
  @Min(1)
  @Max(MAX_ITEM_QUANTITY)
  quantity: number;
}

/** `:id/items/:itemId` path parameters. */
export class OrderItemParams {
  @LowerCase()
  @IsUUID('all')
  id: string;

  @LowerCase()
  @IsUUID('all')
  itemId: string;
}
