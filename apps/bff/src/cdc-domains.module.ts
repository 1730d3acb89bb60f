import { Module } from '@nestjs/common';
import { CatalogCdcModule } from './catalog/catalog-cdc.module';
import { OrdersCdcModule } from './orders/orders-cdc.module';

/** Streams the domains consume (health and lag checks watch these). The cache-domain schematic appends to it. */
export const CDC_STREAMS: string[] = ['cdc.catalog.v1', 'cdc.orders.v1'];

/**
 * Every domain's cache service and CDC handler, without the HTTP API, for
 * apps/cache-sync. The cache-domain schematic registers new CDC domains here.
 */
@Module({
  imports: [CatalogCdcModule, OrdersCdcModule],
})
export class CdcDomainsModule {}
