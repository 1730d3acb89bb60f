import { Injectable } from '@nestjs/common';
import { EntityManager, In } from 'typeorm';
import { ProductEntity } from './entities/product.entity';
import { StockLevelEntity } from './entities/stock-level.entity';

/** What another module needs to know about a product to sell it. */
export interface OrderableProduct {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
  currency: string;
  active: boolean;
}

/**
 * The catalog module's public surface for other modules (orders). Every method
 * takes the caller's EntityManager so that stock moves commit or roll back in
 * the caller's transaction, while only catalog code touches catalog tables.
 */
@Injectable()
export class CatalogService {
  async findProducts(em: EntityManager, ids: string[]): Promise<Map<string, OrderableProduct>> {
    if (ids.length === 0) return new Map();
    const rows = await em.find(ProductEntity, {
      where: { id: In(ids) },
      select: { id: true, sku: true, name: true, priceCents: true, currency: true, active: true },
    });
    return new Map(rows.map((p) => [p.id, p]));
  }

  /** Takes `quantity` from stock if that much is there; answers false (and changes nothing) otherwise. */
  async reserveStock(em: EntityManager, productId: string, quantity: number): Promise<boolean> {
    // One conditional UPDATE: concurrent orders cannot both take the last unit.
    const result = await em
      .createQueryBuilder()
      .update(StockLevelEntity)
      .set({ quantity: () => 'quantity - :quantity' })
      .where('product_id = :productId AND quantity >= :quantity', { productId, quantity })
      .execute();
    return result.affected === 1;
  }

  /** Gives stock back. A product deleted meanwhile has no stock row, and nothing happens. */
  async releaseStock(em: EntityManager, productId: string, quantity: number): Promise<void> {
    await em
      .createQueryBuilder()
      .update(StockLevelEntity)
      .set({ quantity: () => 'quantity + :quantity' })
      .where('product_id = :productId', { productId, quantity })
      .execute();
  }
}
