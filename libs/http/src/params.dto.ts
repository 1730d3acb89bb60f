import { Transform } from 'class-transformer';
import { IsString, IsUUID, Matches } from 'class-validator';

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

/** Validates an account id field, naming it in the message. */
export const IsAccountId = () =>
  Matches(ACCOUNT_ID_PATTERN, { message: ({ property }) => `${property} must match ^[A-Za-z0-9_-]{1,64}$` });

/** `:accountId` path parameter. */
export class AccountParams {
  @IsString()
  @IsAccountId()
  accountId: string;
}

/** ISO 4217 codes are stored upper case (the ISO validator alone also accepts "eur"). */
export const IsUpperCaseCurrency = () => Matches(/^[A-Z]{3}$/, { message: 'currency must be upper case' });
