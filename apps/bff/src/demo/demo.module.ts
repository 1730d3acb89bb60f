import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { OrdersModule } from '../orders/orders.module';
import { DemoSeedService } from './demo-seed.service';

@Module({
  imports: [CatalogModule, OrdersModule],
  providers: [DemoSeedService],
})
export class DemoModule {}
