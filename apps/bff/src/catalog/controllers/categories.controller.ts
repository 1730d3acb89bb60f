import { Body, Controller, Get, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CachedRead } from '@app/cache';
import { ApiErrors, IdParams } from '@app/http';
import { CatalogCacheService } from '../catalog-cache.service';
import { catalogKeys } from '../catalog.keys';
import { CategoriesService } from '../categories.service';
import { CategoryListingResponse, CategoryResponse, CategorySummaryResponse } from '../dto/catalog-views.dto';
import { IdempotencyContext } from '../../idempotency/idempotency-key';
import { IdempotencyKey, Idempotent } from '../../idempotency/idempotency.interceptor';
import { CategorySlugParams, CreateCategoryDto, UpdateCategoryDto } from '../dto/category.dto';

@ApiTags('catalog')
@Controller('catalog/categories')
export class CategoriesController {
  constructor(private readonly categories: CategoriesService) {}

  /** Every category sorted by name, with its number of active products. */
  @Get()
  @CachedRead(CatalogCacheService, 'categories', () => catalogKeys.categories())
  @ApiErrors(503)
  list(): Promise<CategorySummaryResponse[]> {
    return this.categories.list();
  }

  /** Creates a category. */
  @Post()
  @Idempotent({ conflict: 'slug already exists' })
  create(
    @Body() dto: CreateCategoryDto,
    @IdempotencyKey() idempotency?: IdempotencyContext,
  ): Promise<CategoryResponse> {
    return this.categories.create(dto, idempotency);
  }

  /** Renames a category or changes its slug (no If-Match). */
  @Patch(':id')
  @ApiErrors(503, { 404: 'category not found', 409: 'slug already exists; or a concurrent update: retry' })
  update(@Param() { id }: IdParams, @Body() dto: UpdateCategoryDto): Promise<CategoryResponse> {
    return this.categories.update(id, dto);
  }

  /** A category and its active products sorted by name. */
  @Get(':slug/products')
  @CachedRead(CatalogCacheService, 'listing', (req) => catalogKeys.listing((req.params as CategorySlugParams).slug))
  @ApiErrors(400, 503, { 404: 'category not found' })
  listing(@Param() { slug }: CategorySlugParams): Promise<CategoryListingResponse> {
    return this.categories.listing(slug);
  }
}
