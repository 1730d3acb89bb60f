import { Module } from '@nestjs/common';
import { CatalogModule } from './catalog/catalog.module';
import { OrdersModule } from './orders/orders.module';

/** The BFF's domain modules. `nest g -c ./libs/schematics cache-domain <name>` registers new ones here. */
@Module({
  imports: [CatalogModule, OrdersModule],
})
export class DomainsModule {}
