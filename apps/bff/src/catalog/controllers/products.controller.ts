import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CachedRead } from '@app/cache';
import { ApiErrors, IdParams, IfMatch } from '@app/http';
import { CatalogCacheService } from '../catalog-cache.service';
import { catalogKeys } from '../catalog.keys';
import { AvailabilityResponse, ProductResponse } from '../dto/catalog-views.dto';
import { CreateProductDto, ReplaceProductDto, SetStockDto, UpdateProductDto } from '../dto/product.dto';
import { ProductsService } from '../products.service';
import { IdempotencyContext } from '../../idempotency/idempotency-key';
import { IdempotencyKey, Idempotent } from '../../idempotency/idempotency.interceptor';

@ApiTags('catalog')
@Controller('catalog/products')
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  /** A product, inactive ones included. */
  @Get(':id')
  @CachedRead(CatalogCacheService, 'product', (req) => catalogKeys.product((req.params as IdParams).id))
  @ApiErrors(400, 503, { 404: 'product not found' })
  get(@Param() { id }: IdParams): Promise<ProductResponse> {
    return this.products.get(id);
  }

  /** A product's stock level (cached 60 s, and invalidated by CDC). */
  @Get(':id/availability')
  @CachedRead(CatalogCacheService, 'availability', (req) => catalogKeys.availability((req.params as IdParams).id))
  @ApiErrors(400, 503, { 404: 'product not found' })
  availability(@Param() { id }: IdParams): Promise<AvailabilityResponse> {
    return this.products.availability(id);
  }

  /** Creates a product and its stock row (quantity `stock`, default 0). */
  @Post()
  @Idempotent({ conflict: 'sku already exists', unprocessable: 'categoryId does not refer to an existing category' })
  create(@Body() dto: CreateProductDto, @IdempotencyKey() idempotency?: IdempotencyContext): Promise<ProductResponse> {
    return this.products.create(dto, idempotency);
  }

  /** Replaces a product: an omitted description becomes empty, an omitted `active` true. */
  @Put(':id')
  @ApiErrors(503, {
    404: 'product not found',
    409: 'sku already exists; or a concurrent update: retry',
    422: 'categoryId does not refer to an existing category',
  })
  replace(
    @Param() { id }: IdParams,
    @Body() dto: ReplaceProductDto,
    @IfMatch() ifMatch?: string,
  ): Promise<ProductResponse> {
    return this.products.replace(id, dto, ifMatch);
  }

  /** Changes the fields sent; null is refused. */
  @Patch(':id')
  @ApiErrors(503, {
    404: 'product not found',
    409: 'sku already exists; or a concurrent update: retry',
    422: 'categoryId does not refer to an existing category',
  })
  update(
    @Param() { id }: IdParams,
    @Body() dto: UpdateProductDto,
    @IfMatch() ifMatch?: string,
  ): Promise<ProductResponse> {
    return this.products.update(id, dto, ifMatch);
  }

  /** Sets a product's stock level; If-Match compares with the availability's ETag. */
  @Put(':id/stock')
  @ApiErrors(503, { 404: 'product not found', 409: 'a concurrent update: retry' })
  setStock(
    @Param() { id }: IdParams,
    @Body() dto: SetStockDto,
    @IfMatch() ifMatch?: string,
  ): Promise<AvailabilityResponse> {
    return this.products.setStock(id, dto.quantity, ifMatch);
  }

  /** Deletes a product and its stock row. */
  @Delete(':id')
  @HttpCode(204)
  @ApiErrors(503, { 404: 'product not found', 409: 'a concurrent update: retry' })
  async remove(@Param() { id }: IdParams, @IfMatch() ifMatch?: string): Promise<void> {
    await this.products.remove(id, ifMatch);
  }
}
