import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsString, IsUUID, Matches, ValidationOptions } from 'class-validator';

/** UUIDs are compared and used in cache keys in one canonical (lower-case) form. */
export const LowerCase = () => Transform(({ value }) => (typeof value === 'string' ? value.toLowerCase() : value));

/** `:id` path parameter. */
export class IdParams {
  @LowerCase()
  @IsUUID('all')
  id: string;
}

/** Account ids, shared by every service that keys data by account (orders, invoices, billing). */
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Validates an account id field, naming it in the message, and documents its pattern. */
export const IsAccountId = () =>
  applyDecorators(
    Matches(ACCOUNT_ID_PATTERN, { message: ({ property }) => `${property} must match ^[A-Za-z0-9_-]{1,64}$` }),
    ApiProperty({ pattern: ACCOUNT_ID_PATTERN.source, example: 'acct-1' }),
  );

/** `:accountId` path parameter. */
export class AccountParams {
  @IsString()
  @IsAccountId()
  accountId: string;
}

/** ISO 4217 codes are stored upper case (the ISO validator alone also accepts "eur"). */
export const CURRENCY_PATTERN = /^[A-Z]{3}$/;

/** The upper-case rule of a currency field, documented with it (the swagger plugin cannot read a custom rule). */
export const IsUpperCaseCurrency = () =>
  applyDecorators(
    Matches(CURRENCY_PATTERN, { message: 'currency must be upper case' }),
    ApiProperty({ pattern: CURRENCY_PATTERN.source, example: 'EUR' }),
  );

/** An integer (no fractions, no numeric strings), documented as `type: integer` (the plugin reads IsInt as a number). */
export const IsInteger = (options?: ValidationOptions) =>
  applyDecorators(IsInt(options), ApiProperty({ type: 'integer' }));
