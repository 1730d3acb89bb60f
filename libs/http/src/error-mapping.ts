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
  isDataException,
  isDatabaseUnavailable,
  isForeignKeyViolation,
  isSerializationFailure,
  uniqueViolation,
} from '@app/database';

const SNAKE_TO_CAMEL = (column: string) => column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * The one place where an error that is not already an HttpException becomes an
 * HTTP answer. Services check the common cases themselves (and answer with a
 * precise message); this catches the races those checks cannot close, such as
 * two requests inserting the same sku at once.
 */
export function toHttpException(err: unknown): HttpException | undefined {
  if (err instanceof HttpException) return err;
  if (isDatabaseUnavailable(err)) return new ServiceUnavailableException('database unavailable');
  const unique = uniqueViolation(err);
  if (unique) return new ConflictException(`${SNAKE_TO_CAMEL(unique.column)} already exists`);
  if (isForeignKeyViolation(err)) return new UnprocessableEntityException('a referenced record does not exist');
  if (isCheckViolation(err)) return new BadRequestException('a value is out of range');
  // Input validation refuses these first (and names the field); this is the net for any writer it misses.
  if (isDataException(err)) return new BadRequestException('a value cannot be stored');
  if (isSerializationFailure(err)) return new ConflictException('conflicting concurrent update; retry the request');
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
