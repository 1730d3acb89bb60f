import { Module } from '@nestjs/common';
import { InvoicesCacheService } from './invoices-cache.service';
import { InvoicesController } from './invoices.controller';
import { InvoicesSource } from './invoices.source';

/** GET /accounts/:accountId/invoices through a TTL cache over apps/billing (no CDC: the cache service lives here). */
@Module({
  controllers: [InvoicesController],
  providers: [InvoicesCacheService, InvoicesSource],
  exports: [InvoicesCacheService],
})
export class InvoicesModule {}
