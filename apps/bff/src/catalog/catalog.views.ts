import { CategoryEntity } from './entities/category.entity';
import { ProductEntity } from './entities/product.entity';
import { StockLevelEntity } from './entities/stock-level.entity';

/** The JSON shapes the catalog API answers with (docs/contract.md §3), and the mappers that build them. */

export interface CategoryView {
  id: string;
  slug: string;
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface CategorySummaryView {
  id: string;
  slug: string;
  name: string;
  /** Active products in the category. */
  productCount: number;
}

export interface ProductView {
  id: string;
  sku: string;
  name: string;
  description: string;
  priceCents: number;
  currency: string;
  categoryId: string;
  active: boolean;
  version: number;
  updatedAt: Date;
}

export interface CategoryListingView {
  category: CategoryView;
  products: ProductView[];
}

export interface AvailabilityView {
  productId: string;
  quantity: number;
  inStock: boolean;
  updatedAt: Date;
}

export function toCategoryView(c: CategoryEntity): CategoryView {
  return { id: c.id, slug: c.slug, name: c.name, createdAt: c.createdAt, updatedAt: c.updatedAt };
}

export function toProductView(p: ProductEntity): ProductView {
  return {
    id: p.id,
    sku: p.sku,
    name: p.name,
    description: p.description,
    priceCents: p.priceCents,
    currency: p.currency,
    categoryId: p.categoryId,
    active: p.active,
    version: p.version,
    updatedAt: p.updatedAt,
  };
}

export function toAvailabilityView(s: StockLevelEntity): AvailabilityView {
  return { productId: s.productId, quantity: s.quantity, inStock: s.quantity > 0, updatedAt: s.updatedAt };
}
