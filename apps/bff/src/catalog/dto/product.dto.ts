import { ApiProperty, OmitType, PartialType } from '@nestjs/swagger';
import {
  IsBoolean,
  IsISO4217CurrencyCode,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import { IsInteger, IsUpperCaseCurrency, LowerCase } from '@app/http';

/** The largest value of a Postgres `integer` column. */
export const MAX_INT32 = 2_147_483_647;

/** Stock keeping units: upper-case letters, digits and dashes. */
export const SKU_PATTERN = /^[A-Z0-9-]{1,64}$/;

export class CreateProductDto {
  /** Stock keeping unit: upper-case letters, digits and dashes, unique. */
  @ApiProperty({ pattern: SKU_PATTERN.source, example: 'COFFEE-001' })
  @IsString()
  @Matches(SKU_PATTERN, { message: 'sku must match ^[A-Z0-9-]{1,64}$' })
  sku: string;

  @IsString()
  @Length(1, 200)
  name: string;

  /** Empty when omitted; null is refused. */
  @ValidateIf((_, value) => value !== undefined)
  @IsString()
  @MaxLength(5000)
  description?: string;

  @IsInteger()
  @Min(0)
  @Max(MAX_INT32)
  priceCents: number;

  /** ISO 4217 code, upper case (e.g. EUR). */
  @IsISO4217CurrencyCode()
  @IsUpperCaseCurrency()
  currency: string;

  @LowerCase()
  @IsUUID('all')
  categoryId: string;

  @ValidateIf((_, value) => value !== undefined)
  @IsBoolean()
  active?: boolean;

  /** Initial stock; 0 when omitted, null is refused. */
  @ValidateIf((_, value) => value !== undefined)
  @IsInteger()
  @Min(0)
  @Max(MAX_INT32)
  stock?: number;
}

/** PUT replaces every field; an omitted description becomes empty and an omitted `active` becomes true. */
export class ReplaceProductDto extends OmitType(CreateProductDto, ['stock'] as const) {}

/** Every field optional, but a field that is sent must be valid: null is refused, not written. */
export class UpdateProductDto extends PartialType(ReplaceProductDto, { skipNullProperties: false }) {}

export class SetStockDto {
  @IsInteger()
  @Min(0)
  @Max(MAX_INT32)
  quantity: number;
}
