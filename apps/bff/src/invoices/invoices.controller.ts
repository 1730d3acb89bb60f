import { Controller, Get, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CachedRead } from '@app/cache';
import { IdParams } from '@app/http';
import { InvoicesCacheService } from './invoices-cache.service';
import { invoicesKeys } from './invoices.keys';
import { InvoicesItemView, InvoicesSource } from './invoices.source';

@ApiTags('invoices')
@Controller('invoices')
export class InvoicesController {
  constructor(private readonly source: InvoicesSource) {}

  /** One item, through the cache: the source is read only on a miss. */
  @Get(':id')
  @CachedRead(InvoicesCacheService, 'item', (req) => invoicesKeys.item((req.params as IdParams).id))
  get(@Param() { id }: IdParams): Promise<InvoicesItemView> {
    return this.source.read(id);
  }
}
