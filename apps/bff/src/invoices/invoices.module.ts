import { Module } from '@nestjs/common';
import { InvoicesCacheService } from './invoices-cache.service';
import { InvoicesController } from './invoices.controller';
import { InvoicesSource } from './invoices.source';

/** GET /invoices/:id through the cache (ttl: no CDC handler, so the cache service lives here). */
@Module({
  controllers: [InvoicesController],
  providers: [InvoicesCacheService, InvoicesSource],
  exports: [InvoicesCacheService],
})
export class InvoicesModule {}
