import { ApiProperty, PartialType, PickType } from '@nestjs/swagger';
import { IsIn, IsISO4217CurrencyCode, IsString, Matches, Max, Min, ValidateIf } from 'class-validator';
import { IsInteger, IsUpperCaseCurrency } from '@app/http';
import { IsCalendarDate } from '../calendar-date';
import { INVOICE_STATUSES, InvoiceStatus } from '../invoice-status';

export const INVOICE_NUMBER_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
/** The largest value of a Postgres integer. */
export const MAX_TOTAL_CENTS = 2_147_483_647;

export class CreateInvoiceDto {
  /** Unique across all accounts, e.g. INV-2026-0001: letters, digits and dashes. */
  @ApiProperty({ pattern: INVOICE_NUMBER_PATTERN.source })
  @IsString()
  @Matches(INVOICE_NUMBER_PATTERN, { message: 'number must match ^[A-Za-z0-9-]{1,64}$' })
  number: string;

  /** Default `draft`. Any status may be given at creation (demos and tests set up settled invoices too). */
  @ValidateIf((_, value) => value !== undefined)
  @IsIn(INVOICE_STATUSES)
  status?: InvoiceStatus;

  @IsInteger()
  @Min(0)
  @Max(MAX_TOTAL_CENTS)
  totalCents: number;

  /** ISO 4217 code, upper case. */
  @IsISO4217CurrencyCode()
  @IsUpperCaseCurrency()
  currency: string;

  /** A calendar date, YYYY-MM-DD. */
  @ApiProperty({ format: 'date', example: '2026-12-31' })
  @IsCalendarDate()
  dueDate: string;
}

/**
 * Every field optional, but a field that is sent must be valid: null is refused,
 * not written. Status changes follow draft→open→paid, draft/open→void (409 otherwise).
 */
export class UpdateInvoiceDto extends PartialType(
  PickType(CreateInvoiceDto, ['status', 'totalCents', 'dueDate'] as const),
  {
    skipNullProperties: false,
  },
) {}
