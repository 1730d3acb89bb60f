import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Put } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CachedRead } from '@app/cache';
import { IdParams } from '@app/http';
import { CatalogCacheService } from '../catalog-cache.service';
import { catalogKeys } from '../catalog.keys';
import { AvailabilityView, ProductView } from '../catalog.views';
import { CreateProductDto, ReplaceProductDto, SetStockDto, UpdateProductDto } from '../dto/product.dto';
import { ProductsService } from '../products.service';

@ApiTags('catalog')
@Controller('catalog/products')
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  /** A product, inactive ones included. */
  @Get(':id')
  @CachedRead(CatalogCacheService, 'product', (req) => catalogKeys.product((req.params as IdParams).id))
  get(@Param() { id }: IdParams): Promise<ProductView> {
    return this.products.get(id);
  }

  @Get(':id/availability')
  @CachedRead(CatalogCacheService, 'availability', (req) => catalogKeys.availability((req.params as IdParams).id))
  availability(@Param() { id }: IdParams): Promise<AvailabilityView> {
    return this.products.availability(id);
  }

  /** Creates a product and its stock row (quantity `stock`, default 0). */
  @Post()
  create(@Body() dto: CreateProductDto): Promise<ProductView> {
    return this.products.create(dto);
  }

  @Put(':id')
  replace(
    @Param() { id }: IdParams,
    @Body() dto: ReplaceProductDto,
    @Headers('if-match') ifMatch?: string,
  ): Promise<ProductView> {
    return this.products.replace(id, dto, ifMatch);
  }

  @Patch(':id')
  update(
    @Param() { id }: IdParams,
    @Body() dto: UpdateProductDto,
    @Headers('if-match') ifMatch?: string,
  ): Promise<ProductView> {
    return this.products.update(id, dto, ifMatch);
  }

  @Put(':id/stock')
  setStock(
    @Param() { id }: IdParams,
    @Body() dto: SetStockDto,
    @Headers('if-match') ifMatch?: string,
  ): Promise<AvailabilityView> {
    return this.products.setStock(id, dto.quantity, ifMatch);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param() { id }: IdParams, @Headers('if-match') ifMatch?: string): Promise<void> {
    await this.products.remove(id, ifMatch);
  }
}
