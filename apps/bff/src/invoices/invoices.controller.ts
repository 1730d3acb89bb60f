import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendEntry } from '@app/cache';
import { AccountParams, ApiCachedRead, ApiErrors } from '@app/http';
import { InvoiceResponse } from './dto/invoice-views.dto';
import { InvoicesCacheService } from './invoices-cache.service';

@ApiTags('invoices')
@Controller()
export class InvoicesController {
  constructor(private readonly invoices: InvoicesCacheService) {}

  /**
   * An account's invoices from apps/billing, cached with a TTL and revalidated
   * with If-None-Match; X-Cache: STALE while billing fails within the grace period.
   */
  @Get('accounts/:accountId/invoices')
  @ApiOkResponse({ description: "The account's invoices (`[]` when none)", type: [InvoiceResponse] })
  @ApiCachedRead()
  @ApiErrors(400, {
    503: 'billing service unavailable: billing failed and no entry is within its grace period',
  })
  async list(
    @Param() { accountId }: AccountParams,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer | undefined> {
    const read = await this.invoices.accountInvoices(accountId);
    return sendEntry(request, reply, read.entry, read.status);
  }
}
