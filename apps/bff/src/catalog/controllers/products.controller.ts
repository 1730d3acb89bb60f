import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { IdParams } from '@app/http';
import { AvailabilityView, ProductView } from '../catalog.views';
import { CreateProductDto, ReplaceProductDto, SetStockDto, UpdateProductDto } from '../dto/product.dto';
import { ProductsService } from '../products.service';

@ApiTags('catalog')
@Controller('catalog/products')
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  /** A product, inactive ones included. */
  @Get(':id')
  get(@Param() { id }: IdParams): Promise<ProductView> {
    return this.products.get(id);
  }

  @Get(':id/availability')
  availability(@Param() { id }: IdParams): Promise<AvailabilityView> {
    return this.products.availability(id);
  }

  /** Creates a product and its stock row (quantity `stock`, default 0). */
  @Post()
  create(@Body() dto: CreateProductDto): Promise<ProductView> {
    return this.products.create(dto);
  }

  @Put(':id')
  replace(@Param() { id }: IdParams, @Body() dto: ReplaceProductDto): Promise<ProductView> {
    return this.products.replace(id, dto);
  }

  @Patch(':id')
  update(@Param() { id }: IdParams, @Body() dto: UpdateProductDto): Promise<ProductView> {
    return this.products.update(id, dto);
  }

  @Put(':id/stock')
  setStock(@Param() { id }: IdParams, @Body() dto: SetStockDto): Promise<AvailabilityView> {
    return this.products.setStock(id, dto.quantity);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param() { id }: IdParams): Promise<void> {
    await this.products.remove(id);
  }
}
