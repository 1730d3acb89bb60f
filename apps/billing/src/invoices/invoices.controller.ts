import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiErrors, ifNoneMatchMatches } from '@app/http';
import { IdParams } from '@app/http';
import { ResponseStats } from '../stats/response-stats';
import { AccountParams } from '@app/http';
import { CreateInvoiceDto, UpdateInvoiceDto } from './dto/invoice.dto';
import { INVOICE_STATUSES } from './invoice-status';
import { InvoicesService } from './invoices.service';
import { InvoiceView } from './invoices.views';
import { jsonRepresentation } from './json-representation';

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

@ApiTags('invoices')
@Controller()
export class InvoicesController {
  constructor(
    private readonly invoices: InvoicesService,
    private readonly stats: ResponseStats,
  ) {}

  /**
   * An account's invoices `[{id, number, status, totalCents, currency, dueDate}]`
   * by due date, then number. The body is serialised once; its strong `ETag`
   * is computed from those bytes, and `If-None-Match` with it answers `304`
   * without a body.
   */
  @Get('accounts/:accountId/invoices')
  @ApiHeader({ name: 'If-None-Match', required: false, description: 'ETag of a list the client holds' })
  @ApiOkResponse({
    description: 'The invoices, with a strong ETag header over the body bytes',
    schema: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'number', 'status', 'totalCents', 'currency', 'dueDate'],
        properties: {
          id: { type: 'string', format: 'uuid' },
          number: { type: 'string' },
          status: { type: 'string', enum: [...INVOICE_STATUSES] },
          totalCents: { type: 'integer', minimum: 0 },
          currency: { type: 'string', example: 'EUR' },
          dueDate: { type: 'string', format: 'date' },
        },
      },
    },
  })
  @ApiResponse({
    status: 304,
    description: 'Not Modified: the If-None-Match ETag is current (no body)',
    headers: { ETag: { required: true, description: 'Strong ETag of the body bytes', schema: { type: 'string' } } },
  })
  @ApiErrors(400, 503)
  async listForAccount(
    @Param() { accountId }: AccountParams,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer | undefined> {
    const { body, etag } = jsonRepresentation(await this.invoices.listForAccount(accountId));
    void reply.header('content-type', JSON_CONTENT_TYPE).header('etag', etag);
    const notModified = ifNoneMatchMatches(request.headers['if-none-match'], etag);
    // HEAD runs this handler too but sends no body; only GETs are counted.
    if (request.method === 'GET') this.stats.recordList(notModified ? 304 : 200);
    if (notModified) {
      void reply.status(304);
      return undefined;
    }
    return body;
  }

  /** Creates an invoice (status `draft` unless given). 409 when the number exists. */
  @Post('accounts/:accountId/invoices')
  @ApiErrors(503, { 409: 'the invoice number already exists' })
  create(@Param() { accountId }: AccountParams, @Body() dto: CreateInvoiceDto): Promise<InvoiceView> {
    return this.invoices.create(accountId, dto);
  }

  /** Changes status, amount or due date; 409 for a forbidden status change or a change to a paid/void invoice. */
  @Patch('invoices/:id')
  @ApiErrors(503, {
    404: 'invoice not found',
    409: 'a forbidden status change, or a change to a paid or void invoice',
  })
  update(@Param() { id }: IdParams, @Body() dto: UpdateInvoiceDto): Promise<InvoiceView> {
    return this.invoices.update(id, dto);
  }

  /** Deletes an invoice. */
  @Delete('invoices/:id')
  @HttpCode(204)
  @ApiErrors(503, { 404: 'invoice not found' })
  async remove(@Param() { id }: IdParams): Promise<void> {
    await this.invoices.remove(id);
  }
}
