/**
 * Classifies errors from pg/TypeORM. Kept free of Nest so it can be unit tested
 * and shared by the HTTP error mapping and the boot-time checks.
 */

/** SQLSTATE classes and node errno codes that mean "the database cannot be reached right now". */
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'EAI_AGAIN',
]);
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '3D000', // invalid_catalog_name (database dropped under us)
]);

interface PgLikeError {
  code?: string;
  message?: string;
  detail?: string;
  constraint?: string;
  driverError?: PgLikeError;
  errors?: PgLikeError[]; // AggregateError from net.connect over several addresses
}

function pgError(err: unknown): PgLikeError {
  const e = (err ?? {}) as PgLikeError;
  return e.driverError ?? e;
}

export function isDatabaseUnavailable(err: unknown): boolean {
  const e = pgError(err);
  const code = e.code ?? e.errors?.[0]?.code ?? '';
  if (UNAVAILABLE_ERRNOS.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  const message = e.message ?? '';
  // pg's pool and client report these without a code.
  return /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|connection timeout/i.test(
    message,
  );
}

export interface UniqueViolation {
  column: string;
  value: string;
}

/** `Key (sku)=(ABC-1) already exists.` → { column: 'sku', value: 'ABC-1' } */
export function uniqueViolation(err: unknown): UniqueViolation | undefined {
  const e = pgError(err);
  if (e.code !== '23505') return undefined;
  const match = /Key \(([^)]+)\)=\((.*)\) already exists/.exec(e.detail ?? '');
  return { column: match?.[1] ?? e.constraint ?? 'value', value: match?.[2] ?? '' };
}

export function isForeignKeyViolation(err: unknown): boolean {
  return pgError(err).code === '23503';
}

export function isCheckViolation(err: unknown): boolean {
  const code = pgError(err).code;
  return code === '23514' || code === '22003' || code === '23502';
}

/** SQLSTATE class 22 (data exception): a value Postgres cannot store, e.g. a NUL character in text or jsonb. */
export function isDataException(err: unknown): boolean {
  return (pgError(err).code ?? '').startsWith('22');
}

export function isSerializationFailure(err: unknown): boolean {
  const code = pgError(err).code;
  return code === '40001' || code === '40P01';
}
