import { Transform } from 'class-transformer';
import { IsUUID } from 'class-validator';

/** UUIDs are compared and used in cache keys in one canonical (lower-case) form. */
export const LowerCase = () => Transform(({ value }) => (typeof value === 'string' ? value.toLowerCase() : value));

/** `:id` path parameter. */
export class IdParams {
  @LowerCase() @IsUUID('all')
  id: string;
}
