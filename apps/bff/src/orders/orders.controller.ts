import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CachedRead } from '@app/cache';
import { AccountParams, IdParams } from '@app/http';
import { OrdersCacheService } from './orders-cache.service';
import { ordersKeys } from './orders.keys';
import { CreateOrderDto } from './dto/create-order.dto';
import { AddOrderItemDto, ChangeOrderItemDto, ChangeOrderStatusDto, OrderItemParams } from './dto/order-changes.dto';
import { OrderSummaryView, OrderView } from './orders.views';
import { OrdersService } from './orders.service';

@ApiTags('orders')
@Controller()
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  /** An account's orders, newest first. */
  @Get('accounts/:accountId/orders')
  @CachedRead(OrdersCacheService, 'summaries', (req) => ordersKeys.account((req.params as AccountParams).accountId))
  listForAccount(@Param() { accountId }: AccountParams): Promise<OrderSummaryView[]> {
    return this.orders.listForAccount(accountId);
  }

  @Get('orders/:id')
  @CachedRead(OrdersCacheService, 'detail', (req) => ordersKeys.detail((req.params as IdParams).id))
  get(@Param() { id }: IdParams): Promise<OrderView> {
    return this.orders.get(id);
  }

  /** Prices come from the catalog; stock is reserved in the same transaction. */
  @Post('orders')
  create(@Body() dto: CreateOrderDto): Promise<OrderView> {
    return this.orders.create(dto);
  }

  @Patch('orders/:id')
  changeStatus(
    @Param() { id }: IdParams,
    @Body() dto: ChangeOrderStatusDto,
    @Headers('if-match') ifMatch?: string,
  ): Promise<OrderView> {
    return this.orders.changeStatus(id, dto.status, ifMatch);
  }

  @Delete('orders/:id')
  @HttpCode(204)
  async remove(@Param() { id }: IdParams, @Headers('if-match') ifMatch?: string): Promise<void> {
    await this.orders.remove(id, ifMatch);
  }

  @Post('orders/:id/items')
  addItem(
    @Param() { id }: IdParams,
    @Body() dto: AddOrderItemDto,
    @Headers('if-match') ifMatch?: string,
  ): Promise<OrderView> {
    return this.orders.addItem(id, dto, ifMatch);
  }

  @Patch('orders/:id/items/:itemId')
  changeItem(
    @Param() { id, itemId }: OrderItemParams,
    @Body() dto: ChangeOrderItemDto,
    @Headers('if-match') ifMatch?: string,
  ): Promise<OrderView> {
    return this.orders.changeItemQuantity(id, itemId, dto.quantity, ifMatch);
  }

  @Delete('orders/:id/items/:itemId')
  removeItem(@Param() { id, itemId }: OrderItemParams, @Headers('if-match') ifMatch?: string): Promise<OrderView> {
    return this.orders.removeItem(id, itemId, ifMatch);
  }
}
