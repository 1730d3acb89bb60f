import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogModule } from '../catalog/catalog.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { OrderItemEntity } from './entities/order-item.entity';
import { OrderEntity } from './entities/order.entity';
import { OrdersCdcModule } from './orders-cdc.module';
import { OwnWritesModule } from '../own-writes/own-writes.module';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';

/** Orders and their items; prices and stock come from CatalogModule's exported service. */
@Module({
  imports: [
    TypeOrmModule.forFeature([OrderEntity, OrderItemEntity]),
    CatalogModule,
    IdempotencyModule,
    OrdersCdcModule,
    OwnWritesModule,
  ],
  controllers: [OrdersController],
  providers: [OrdersService],
  exports: [OrdersService],
})
export class OrdersModule {}
