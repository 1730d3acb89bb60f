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
  '57014', // query_canceled: statement_timeout (DATABASE_TIMEOUT_MS) or an operator's pg_cancel_backend
]);

interface PgLikeError {
  name?: string;
  code?: string;
  message?: string;
  /** TypeORM's QueryFailedError: the statement that failed. */
  query?: string;
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
  // TypeORM refuses a query on a runner whose connection was lost and released meanwhile.
  if ((err as PgLikeError | undefined)?.name === 'QueryRunnerAlreadyReleasedError') return true;
  const e = pgError(err);
  const code = e.code ?? e.errors?.[0]?.code ?? '';
  if (UNAVAILABLE_ERRNOS.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  const message = e.message ?? '';
  // pg's pool and client report these without a code: no pooled connection in time, a connect that timed out
  // ("timeout expired", "…due to connection timeout"), a query without an answer (query_timeout), a lost connection.
  return /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|connection timeout|timeout expired|Query read timeout|not queryable/i.test(
    message,
  );
}

/**
 * A COMMIT that got no answer: the connection hung or broke while it was in flight, so
 * Postgres may or may not have committed. Only the client can find out, by retrying
 * with the same Idempotency-Key. A COMMIT that Postgres answered with an error
 * (statement_timeout, serialization, a deferred constraint) rolled back: not unknown.
 */
export function isCommitOutcomeUnknown(err: unknown): boolean {
  const statement = (err as PgLikeError | undefined)?.query;
  if (typeof statement !== 'string' || statement.trim().toUpperCase() !== 'COMMIT') return false;
  return isDatabaseUnavailable(err) && pgError(err).code !== '57014';
}

/** 55P03 lock_not_available: a `NOWAIT` or `lock_timeout` gave up on a row another transaction holds. */
export function isLockNotAvailable(err: unknown): boolean {
  return pgError(err).code === '55P03';
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
