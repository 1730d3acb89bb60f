import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogCdcModule } from './catalog-cdc.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { CatalogService } from './catalog.service';
import { CategoriesService } from './categories.service';
import { CatalogWrites } from './catalog-writes';
import { CategoriesController } from './controllers/categories.controller';
import { ProductsController } from './controllers/products.controller';
import { CategoryEntity } from './entities/category.entity';
import { ProductEntity } from './entities/product.entity';
import { StockLevelEntity } from './entities/stock-level.entity';
import { ProductsService } from './products.service';

/** Categories, products and stock. Other modules use only CatalogService. */
@Module({
  imports: [
    TypeOrmModule.forFeature([CategoryEntity, ProductEntity, StockLevelEntity]),
    IdempotencyModule,
    CatalogCdcModule,
  ],
  controllers: [CategoriesController, ProductsController],
  providers: [CategoriesService, ProductsService, CatalogService, CatalogWrites],
  exports: [CatalogService, CategoriesService, ProductsService],
})
export class CatalogModule {}
