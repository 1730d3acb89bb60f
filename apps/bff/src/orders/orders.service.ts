import { ConflictException, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { assertIfMatch } from '@app/cache';
import { CatalogService } from '../catalog/catalog.service';
import { IdempotencyContext } from '../idempotency/idempotency-key';
import { OwnWrites } from '../own-writes/own-writes';
import { CreateOrderDto, OrderLineDto } from './dto/create-order.dto';
import { OrderItemEntity } from './entities/order-item.entity';
import { OrderEntity } from './entities/order.entity';
import { canTransition, holdsReservedStock, itemsEditable, OrderStatus } from './order-status';
import { orderTotalCents } from './order-totals';
import { OrderSummaryView, OrderView, toOrderView } from './orders.views';

type PricedItem = Pick<OrderItemEntity, 'productId' | 'sku' | 'name' | 'quantity' | 'unitPriceCents'>;

/**
 * Orders and their items. Every change runs in one transaction that locks the
 * order row, moves stock through the catalog module, and rewrites total_cents,
 * so a failure anywhere leaves orders and stock exactly as they were. Each
 * answer is read inside that transaction: once the COMMIT succeeded, nothing
 * can turn the committed write into an error (docs/contract.md §3 "Idempotent creation").
 */
@Injectable()
export class OrdersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(OrderEntity) private readonly orders: Repository<OrderEntity>,
    private readonly catalog: CatalogService,
    private readonly writes: OwnWrites,
  ) {}

  /** An account's orders, newest first ([] for an account without orders). */
  async listForAccount(accountId: string): Promise<OrderSummaryView[]> {
    return this.orders.query(
      `SELECT o.id, o.status, o.total_cents AS "totalCents", o.currency,
              (SELECT count(*)::int FROM orders.order_items i WHERE i.order_id = o.id) AS "itemCount",
              o.created_at AS "createdAt"
         FROM orders.orders o
        WHERE o.account_id = $1
        ORDER BY o.created_at DESC, o.id DESC`,
      [accountId],
    );
  }

  async get(id: string): Promise<OrderView> {
    const order = await this.orders.findOneBy({ id });
    if (!order) throw new NotFoundException(`order ${id} not found`);
    return this.viewIn(this.dataSource.manager, order);
  }

  async create(dto: CreateOrderDto, idempotency?: IdempotencyContext): Promise<OrderView> {
    return this.writes.run(async (em) => {
      const priced = await this.price(em, dto.currency, dto.items);
      const totalCents = orderTotalCents(priced);
      await this.reserve(em, priced);
      const order = await em.save(
        em.create(OrderEntity, {
          accountId: dto.accountId,
          status: 'pending',
          currency: dto.currency,
          customerEmail: dto.customerEmail,
          shippingAddress: { ...dto.shippingAddress },
          totalCents,
        }),
      );
      await em.insert(
        OrderItemEntity,
        priced.map((p) => ({ ...p, orderId: order.id })),
      );
      return this.reloadView(em, order.id);
    }, idempotency);
  }

  async changeStatus(id: string, status: OrderStatus, ifMatch?: string): Promise<OrderView> {
    return this.writes.run(async (em) => {
      const order = await this.lock(em, id, ifMatch);
      if (!canTransition(order.status, status)) {
        throw new ConflictException(`status cannot change from ${order.status} to ${status}`);
      }
      if (status === 'cancelled') await this.releaseAll(em, id);
      await em.update(OrderEntity, { id }, { status });
      return this.reloadView(em, id);
    });
  }

  async addItem(
    id: string,
    line: OrderLineDto,
    ifMatch?: string,
    idempotency?: IdempotencyContext,
  ): Promise<OrderView> {
    // The key is claimed before If-Match is checked: a replay answers the stored order, whose write changed the ETag.
    return this.writes.run(async (em) => {
      const order = await this.lockEditable(em, id, ifMatch);
      if (await em.existsBy(OrderItemEntity, { orderId: id, productId: line.productId })) {
        throw new ConflictException(`productId ${line.productId} is already in the order; change its quantity instead`);
      }
      // The body of this route is one line, so messages name `productId`, not `items.0.productId`.
      const priced = await this.price(em, order.currency, [line], () => 'productId');
      await this.reserve(em, priced);
      await em.insert(OrderItemEntity, { ...priced[0], orderId: id });
      await this.rewriteTotal(em, id);
      return this.reloadView(em, id);
    }, idempotency);
  }

  async changeItemQuantity(id: string, itemId: string, quantity: number, ifMatch?: string): Promise<OrderView> {
    return this.writes.run(async (em) => {
      await this.lockEditable(em, id, ifMatch);
      const item = await this.findItem(em, id, itemId);
      const delta = quantity - item.quantity;
      if (delta > 0) await this.reserve(em, [{ ...item, quantity: delta }]);
      if (delta < 0) await this.catalog.releaseStock(em, item.productId, -delta);
      await em.update(OrderItemEntity, { id: itemId }, { quantity });
      await this.rewriteTotal(em, id);
      return this.reloadView(em, id);
    });
  }

  async removeItem(id: string, itemId: string, ifMatch?: string): Promise<OrderView> {
    return this.writes.run(async (em) => {
      await this.lockEditable(em, id, ifMatch);
      const item = await this.findItem(em, id, itemId);
      await this.catalog.releaseStock(em, item.productId, item.quantity);
      await em.delete(OrderItemEntity, { id: itemId });
      await this.rewriteTotal(em, id);
      return this.reloadView(em, id);
    });
  }

  /** Deletes an order; one that still holds reserved stock gives it back first. */
  async remove(id: string, ifMatch?: string): Promise<void> {
    await this.writes.run(async (em) => {
      const order = await this.lock(em, id, ifMatch);
      if (holdsReservedStock(order.status)) await this.releaseAll(em, id);
      await em.delete(OrderEntity, { id });
    });
  }

  /** Prices lines from the catalog at order time; unknown, inactive or foreign-currency products → 422. */
  private async price(
    em: EntityManager,
    currency: string,
    lines: OrderLineDto[],
    field: (index: number) => string = (i) => `items.${i}.productId`,
  ): Promise<PricedItem[]> {
    const products = await this.catalog.findProducts(
      em,
      lines.map((l) => l.productId),
    );
    return lines.map((line, i) => {
      const product = products.get(line.productId);
      if (!product || !product.active) {
        throw new UnprocessableEntityException(`${field(i)}: product ${line.productId} does not exist or is inactive`);
      }
      if (product.currency !== currency) {
        throw new UnprocessableEntityException(
          `${field(i)}: product ${line.productId} is priced in ${product.currency}, not ${currency}`,
        );
      }
      return {
        productId: product.id,
        sku: product.sku,
        name: product.name,
        quantity: line.quantity,
        unitPriceCents: product.priceCents,
      };
    });
  }

  /** Reserves stock in product id order, so concurrent orders lock stock rows in the same order (no deadlock). */
  private async reserve(em: EntityManager, lines: Pick<PricedItem, 'productId' | 'quantity'>[]): Promise<void> {
    const sorted = [...lines].sort((a, b) => a.productId.localeCompare(b.productId));
    for (const line of sorted) {
      if (!(await this.catalog.reserveStock(em, line.productId, line.quantity))) {
        throw new ConflictException(`insufficient stock for productId ${line.productId}`);
      }
    }
  }

  private async releaseAll(em: EntityManager, orderId: string): Promise<void> {
    const items = await em.find(OrderItemEntity, { where: { orderId }, order: { productId: 'ASC' } });
    for (const item of items) await this.catalog.releaseStock(em, item.productId, item.quantity);
  }

  private async rewriteTotal(em: EntityManager, orderId: string): Promise<void> {
    const items = await em.find(OrderItemEntity, { where: { orderId } });
    await em.update(OrderEntity, { id: orderId }, { totalCents: orderTotalCents(items) });
  }

  /** The order as the write's own transaction left it (version and updated_at as its triggers set them). */
  private async reloadView(em: EntityManager, id: string): Promise<OrderView> {
    return this.viewIn(em, await em.findOneByOrFail(OrderEntity, { id }));
  }

  private async viewIn(em: EntityManager, order: OrderEntity): Promise<OrderView> {
    const items = await em.find(OrderItemEntity, { where: { orderId: order.id }, order: { sku: 'ASC', id: 'ASC' } });
    return toOrderView(order, items);
  }

  /** Locks the order row for the rest of the transaction and checks `If-Match` against the locked state. */
  private async lock(em: EntityManager, id: string, ifMatch?: string): Promise<OrderEntity> {
    const order = await em.findOne(OrderEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
    if (!order) throw new NotFoundException(`order ${id} not found`);
    if (ifMatch !== undefined) assertIfMatch(ifMatch, await this.viewIn(em, order));
    return order;
  }

  private async lockEditable(em: EntityManager, id: string, ifMatch?: string): Promise<OrderEntity> {
    const order = await this.lock(em, id, ifMatch);
    if (!itemsEditable(order.status)) {
      throw new ConflictException(`items cannot change while the order is ${order.status}`);
    }
    return order;
  }

  private async findItem(em: EntityManager, orderId: string, itemId: string): Promise<OrderItemEntity> {
    const item = await em.findOneBy(OrderItemEntity, { id: itemId, orderId });
    if (!item) throw new NotFoundException(`item ${itemId} not found in order ${orderId}`);
    return item;
  }
}
