import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CachedRead } from '@app/cache';
import { AccountParams, ApiErrors, IdParams, IfMatch } from '@app/http';
import { IdempotencyContext } from '../idempotency/idempotency-key';
import { IdempotencyKey, Idempotent } from '../idempotency/idempotency.interceptor';
import { OrdersCacheService } from './orders-cache.service';
import { ordersKeys } from './orders.keys';
import { CreateOrderDto } from './dto/create-order.dto';
import { AddOrderItemDto, ChangeOrderItemDto, ChangeOrderStatusDto, OrderItemParams } from './dto/order-changes.dto';
import { OrderResponse, OrderSummaryResponse } from './dto/order-views.dto';
import { OrdersService } from './orders.service';

@ApiTags('orders')
@Controller()
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  /** An account's orders, newest first. */
  @Get('accounts/:accountId/orders')
  @CachedRead(OrdersCacheService, 'summaries', (req) => ordersKeys.account((req.params as AccountParams).accountId))
  @ApiErrors(400, 503)
  listForAccount(@Param() { accountId }: AccountParams): Promise<OrderSummaryResponse[]> {
    return this.orders.listForAccount(accountId);
  }

  /** An order with its items. */
  @Get('orders/:id')
  @CachedRead(OrdersCacheService, 'detail', (req) => ordersKeys.detail((req.params as IdParams).id))
  @ApiErrors(400, 503, { 404: 'order not found' })
  get(@Param() { id }: IdParams): Promise<OrderResponse> {
    return this.orders.get(id);
  }

  /** Creates an order: prices come from the catalog; stock is reserved in the same transaction. */
  @Post('orders')
  @Idempotent({
    conflict: 'insufficient stock',
    unprocessable: 'a line refers to a missing or inactive product, or one priced in another currency',
  })
  create(@Body() dto: CreateOrderDto, @IdempotencyKey() idempotency?: IdempotencyContext): Promise<OrderResponse> {
    return this.orders.create(dto, idempotency);
  }

  /** Changes the status: pending→paid→shipped→delivered, pending/paid→cancelled (stock given back). */
  @Patch('orders/:id')
  @ApiErrors(503, { 404: 'order not found', 409: 'a forbidden status change; or a concurrent update: retry' })
  changeStatus(
    @Param() { id }: IdParams,
    @Body() dto: ChangeOrderStatusDto,
    @IfMatch() ifMatch?: string,
  ): Promise<OrderResponse> {
    return this.orders.changeStatus(id, dto.status, ifMatch);
  }

  /** Deletes an order; a pending or paid order gives its stock back. */
  @Delete('orders/:id')
  @HttpCode(204)
  @ApiErrors(503, { 404: 'order not found', 409: 'a concurrent update: retry' })
  async remove(@Param() { id }: IdParams, @IfMatch() ifMatch?: string): Promise<void> {
    await this.orders.remove(id, ifMatch);
  }

  /** Adds a product to a pending order, reserving its stock. */
  @Post('orders/:id/items')
  @ApiErrors({ 404: 'order not found' })
  @Idempotent({
    conflict: 'the order is not pending, the product is already in it, or insufficient stock',
    unprocessable: 'the product is missing, inactive or priced in another currency',
  })
  addItem(
    @Param() { id }: IdParams,
    @Body() dto: AddOrderItemDto,
    @IfMatch() ifMatch?: string,
    @IdempotencyKey() idempotency?: IdempotencyContext,
  ): Promise<OrderResponse> {
    return this.orders.addItem(id, dto, ifMatch, idempotency);
  }

  /** Changes an item's quantity in a pending order: more reserves stock, less gives it back. */
  @Patch('orders/:id/items/:itemId')
  @ApiErrors(503, {
    404: 'order or item not found',
    409: 'the order is not pending, or insufficient stock; or a concurrent update: retry',
  })
  changeItem(
    @Param() { id, itemId }: OrderItemParams,
    @Body() dto: ChangeOrderItemDto,
    @IfMatch() ifMatch?: string,
  ): Promise<OrderResponse> {
    return this.orders.changeItemQuantity(id, itemId, dto.quantity, ifMatch);
  }

  /** Removes an item from a pending order, giving its stock back. */
  @Delete('orders/:id/items/:itemId')
  @ApiErrors(503, {
    404: 'order or item not found',
    409: 'the order is not pending; or a concurrent update: retry',
  })
  removeItem(@Param() { id, itemId }: OrderItemParams, @IfMatch() ifMatch?: string): Promise<OrderResponse> {
    return this.orders.removeItem(id, itemId, ifMatch);
  }
}
