import { ApiProperty } from '@nestjs/swagger';
import { CURRENCY_PATTERN } from '@app/http';
import {
  AvailabilityView,
  CategoryListingView,
  CategorySummaryView,
  CategoryView,
  ProductView,
} from '../catalog.views';
import { SLUG_PATTERN } from './category.dto';
import { SKU_PATTERN } from './product.dto';

/**
 * The catalog's answers as OpenAPI schemas (the swagger plugin reads these
 * classes, not the view interfaces). Each implements its view, and the
 * controllers return these types, so a field added to or dropped from a view
 * does not compile until its schema follows.
 */

export class CategoryResponse implements CategoryView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ pattern: SLUG_PATTERN.source })
  slug: string;

  name: string;
  createdAt: Date;
  updatedAt: Date;
}

export class CategorySummaryResponse implements CategorySummaryView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ pattern: SLUG_PATTERN.source })
  slug: string;

  name: string;

  /** Active products in the category. */
  @ApiProperty({ type: 'integer', minimum: 0 })
  productCount: number;
}

export class ProductResponse implements ProductView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ pattern: SKU_PATTERN.source })
  sku: string;

  name: string;
  description: string;

  @ApiProperty({ type: 'integer', minimum: 0 })
  priceCents: number;

  @ApiProperty({ pattern: CURRENCY_PATTERN.source })
  currency: string;

  @ApiProperty({ format: 'uuid' })
  categoryId: string;

  active: boolean;

  /** Bumped by every update of the row; the ETag changes with it. */
  @ApiProperty({ type: 'integer' })
  version: number;

  updatedAt: Date;
}

export class CategoryListingResponse implements CategoryListingView {
  category: CategoryResponse;
  /** Active products, by name. */
  products: ProductResponse[];
}

export class AvailabilityResponse implements AvailabilityView {
  @ApiProperty({ format: 'uuid' })
  productId: string;

  @ApiProperty({ type: 'integer', minimum: 0 })
  quantity: number;

  /** quantity > 0 */
  inStock: boolean;

  updatedAt: Date;
}
