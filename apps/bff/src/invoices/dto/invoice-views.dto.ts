import { ApiProperty } from '@nestjs/swagger';
import type { InvoiceView } from '../invoices.source';

/** One invoice as apps/billing serves it and the BFF passes it on (the schema the swagger plugin reads). */
export class InvoiceResponse implements InvoiceView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  /** The invoice number, e.g. INV-2026-0001. */
  number: string;

  /** As billing answers it: draft, open, paid or void. */
  @ApiProperty({ example: 'open' })
  status: string;

  @ApiProperty({ type: 'integer', minimum: 0 })
  totalCents: number;

  @ApiProperty({ example: 'EUR' })
  currency: string;

  /** YYYY-MM-DD */
  @ApiProperty({ format: 'date' })
  dueDate: string;
}
