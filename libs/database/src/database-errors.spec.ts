import {
  isCommitOutcomeUnknown,
  isDatabaseUnavailable,
  isForeignKeyViolation,
  isLockNotAvailable,
  uniqueViolation,
} from './database-errors';

/** TypeORM's QueryFailedError around a pg error: the failed statement and the driver's error. */
const failed = (query: string, driverError: object) => ({ name: 'QueryFailedError', query, driverError });

describe('database error classification', () => {
  it.each([
    [{ code: 'ECONNREFUSED' }],
    [{ errors: [{ code: 'ECONNREFUSED' }, { code: 'ECONNREFUSED' }] }],
    [{ code: '57P01' }],
    [{ code: '08006' }],
    [{ message: 'timeout exceeded when trying to connect' }],
    [{ driverError: { message: 'Connection terminated unexpectedly' } }],
    // A hung connection: pg's query_timeout, Postgres's statement_timeout, connect and pool-acquire timeouts.
    [failed('SELECT 1', { message: 'Query read timeout' })],
    [failed('SELECT 1', { code: '57014', message: 'canceling statement due to statement timeout' })],
    [{ message: 'timeout expired' }],
    [{ message: 'Connection terminated due to connection timeout' }],
    [{ message: 'Client was closed and is not queryable' }],
    [{ name: 'QueryRunnerAlreadyReleasedError', message: 'Query runner already released.' }],
  ])('treats %j as unavailable', (err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it.each([[{ code: '23505' }], [{ code: '42P01' }], [new Error('boom')], [undefined]])(
    'does not treat %j as unavailable',
    (err) => {
      expect(isDatabaseUnavailable(err)).toBe(false);
    },
  );

  it('extracts the column and value of a unique violation', () => {
    const err = { driverError: { code: '23505', detail: 'Key (sku)=(ABC-1) already exists.' } };
    expect(uniqueViolation(err)).toEqual({ column: 'sku', value: 'ABC-1' });
    expect(uniqueViolation({ code: '23503' })).toBeUndefined();
  });

  it('a COMMIT without an answer has an unknown outcome; one Postgres refused, or any other statement, has not', () => {
    expect(isCommitOutcomeUnknown(failed('COMMIT', { message: 'Query read timeout' }))).toBe(true);
    expect(isCommitOutcomeUnknown(failed('COMMIT', { message: 'Connection terminated unexpectedly' }))).toBe(true);
    expect(isCommitOutcomeUnknown(failed('COMMIT', { code: 'ECONNRESET' }))).toBe(true);
    // Postgres answered: the transaction rolled back.
    expect(isCommitOutcomeUnknown(failed('COMMIT', { code: '57014' }))).toBe(false);
    expect(isCommitOutcomeUnknown(failed('COMMIT', { code: '40001' }))).toBe(false);
    expect(isCommitOutcomeUnknown(failed('COMMIT', { code: '23505' }))).toBe(false);
    // Before the COMMIT nothing can have committed.
    expect(isCommitOutcomeUnknown(failed('INSERT INTO t VALUES (1)', { message: 'Query read timeout' }))).toBe(false);
    expect(isCommitOutcomeUnknown(failed('START TRANSACTION', { message: 'Query read timeout' }))).toBe(false);
    expect(isCommitOutcomeUnknown({ message: 'Query read timeout' })).toBe(false);
    expect(isCommitOutcomeUnknown(undefined)).toBe(false);
  });

  it('recognises a lock that was not available (NOWAIT, lock_timeout) as such, not as an outage', () => {
    const err = failed('SELECT 1 FOR UPDATE NOWAIT', { code: '55P03' });
    expect(isLockNotAvailable(err)).toBe(true);
    expect(isDatabaseUnavailable(err)).toBe(false);
    expect(isLockNotAvailable({ code: '57014' })).toBe(false);
  });

  it('recognises foreign key violations', () => {
    expect(isForeignKeyViolation({ code: '23503' })).toBe(true);
    expect(isForeignKeyViolation({ code: '23505' })).toBe(false);
  });
});
