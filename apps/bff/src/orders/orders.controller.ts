import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { IdParams } from '@app/http';
import { CreateOrderDto } from './dto/create-order.dto';
import { AccountParams, AddOrderItemDto, ChangeOrderItemDto, ChangeOrderStatusDto, OrderItemParams } from './dto/order-changes.dto';
import { OrderSummaryView, OrderView } from './orders.views';
import { OrdersService } from './orders.service';

@ApiTags('orders')
@Controller()
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  /** An account's orders, newest first. */
  @Get('accounts/:accountId/orders')
  listForAccount(@Param() { accountId }: AccountParams): Promise<OrderSummaryView[]> {
    return this.orders.listForAccount(accountId);
  }

  @Get('orders/:id')
  get(@Param() { id }: IdParams): Promise<OrderView> {
    return this.orders.get(id);
  }

  /** Prices come from the catalog; stock is reserved in the same transaction. */
  @Post('orders')
  create(@Body() dto: CreateOrderDto): Promise<OrderView> {
    return this.orders.create(dto);
  }

  @Patch('orders/:id')
  changeStatus(@Param() { id }: IdParams, @Body() dto: ChangeOrderStatusDto): Promise<OrderView> {
    return this.orders.changeStatus(id, dto.status);
  }

  @Delete('orders/:id')
  @HttpCode(204)
  async remove(@Param() { id }: IdParams): Promise<void> {
    await this.orders.remove(id);
  }

  @Post('orders/:id/items')
  addItem(@Param() { id }: IdParams, @Body() dto: AddOrderItemDto): Promise<OrderView> {
    return this.orders.addItem(id, dto);
  }

  @Patch('orders/:id/items/:itemId')
  changeItem(@Param() { id, itemId }: OrderItemParams, @Body() dto: ChangeOrderItemDto): Promise<OrderView> {
    return this.orders.changeItemQuantity(id, itemId, dto.quantity);
  }

  @Delete('orders/:id/items/:itemId')
  removeItem(@Param() { id, itemId }: OrderItemParams): Promise<OrderView> {
    return this.orders.removeItem(id, itemId);
  }
}
