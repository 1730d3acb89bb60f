import {
  BadRequestException,
  ConflictException,
  HttpException,
  ServiceUnavailableException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import {
  isCheckViolation,
  isCommitOutcomeUnknown,
  isDataException,
  isDatabaseUnavailable,
  isForeignKeyViolation,
  isLockNotAvailable,
  isSerializationFailure,
  uniqueViolation,
} from '@app/database';

/** docs/contract.md §3 errors: Postgres refusing, unreachable or hung past DATABASE_TIMEOUT_MS. */
export const DATABASE_UNAVAILABLE = 'database unavailable';
/** The connection failed while COMMIT was in flight: the write may be in the database, or not. */
export const COMMIT_OUTCOME_UNKNOWN =
  'database unavailable: the write may have been applied; retrying it with the same Idempotency-Key is safe';

const SNAKE_TO_CAMEL = (column: string) => column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * The one place where an error that is not already an HttpException becomes an
 * HTTP answer. Services check the common cases themselves (and answer with a
 * precise message); this catches the races those checks cannot close, such as
 * two requests inserting the same sku at once.
 */
export function toHttpException(err: unknown): HttpException | undefined {
  if (err instanceof HttpException) return err;
  if (isCommitOutcomeUnknown(err)) return new ServiceUnavailableException(COMMIT_OUTCOME_UNKNOWN);
  if (isDatabaseUnavailable(err)) return new ServiceUnavailableException(DATABASE_UNAVAILABLE);
  const unique = uniqueViolation(err);
  if (unique) return new ConflictException(`${SNAKE_TO_CAMEL(unique.column)} already exists`);
  if (isForeignKeyViolation(err)) return new UnprocessableEntityException('a referenced record does not exist');
  if (isCheckViolation(err)) return new BadRequestException('a value is out of range');
  // Input validation refuses these first (and names the field); this is the net for any writer it misses.
  if (isDataException(err)) return new BadRequestException('a value cannot be stored');
  if (isSerializationFailure(err)) return new ConflictException('conflicting concurrent update; retry the request');
  if (isLockNotAvailable(err)) return new ConflictException('the record is locked by a concurrent request; retry it');
  // Fastify's own request errors (bad JSON, body too large, bad content type) carry a 4xx status.
  const status = (err as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpException(
      { statusCode: status, message: (err as Error).message, error: STATUS_CODES[status] },
      status,
    );
  }
  return undefined;
}
