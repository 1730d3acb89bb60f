import { Module } from '@nestjs/common';
import { CatalogCdcModule } from '../catalog/catalog-cdc.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { OrdersCdcModule } from '../orders/orders-cdc.module';
import { OwnWrites } from './own-writes';

/** The transaction every API write runs in, with its read-your-writes invalidation (OwnWrites). */
@Module({
  imports: [IdempotencyModule, CatalogCdcModule, OrdersCdcModule],
  providers: [OwnWrites],
  exports: [OwnWrites],
})
export class OwnWritesModule {}
