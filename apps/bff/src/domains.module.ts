import { Module } from '@nestjs/common';
import { CatalogModule } from './catalog/catalog.module';
import { OrdersModule } from './orders/orders.module';
import { InvoicesModule } from './invoices/invoices.module';

/** The BFF's domain modules. `nest g -c ./libs/schematics cache-domain <name>` registers new ones here. */
@Module({
  imports: [CatalogModule, OrdersModule, InvoicesModule],
})
export class DomainsModule {}
