import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogCdcModule } from './catalog-cdc.module';
import { OwnWritesModule } from '../own-writes/own-writes.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { CatalogService } from './catalog.service';
import { CategoriesService } from './categories.service';
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
    OwnWritesModule,
  ],
  controllers: [CategoriesController, ProductsController],
  providers: [CategoriesService, ProductsService, CatalogService],
  exports: [CatalogService, CategoriesService, ProductsService],
})
export class CatalogModule {}
