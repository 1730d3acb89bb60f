import { BadRequestException, HttpException } from '@nestjs/common';
import { COMMIT_OUTCOME_UNKNOWN, DATABASE_UNAVAILABLE, toHttpException } from './error-mapping';

/** TypeORM's QueryFailedError around a pg error. */
const failed = (query: string, driverError: object) => ({ name: 'QueryFailedError', query, driverError });

function answer(err: unknown): { status: number; message: unknown } | undefined {
  const http = toHttpException(err);
  if (!http) return undefined;
  return { status: http.getStatus(), message: (http.getResponse() as { message: unknown }).message };
}

describe('toHttpException (docs/contract.md §3 errors)', () => {
  it.each([
    ['a query without an answer (query_timeout)', failed('SELECT 1', { message: 'Query read timeout' })],
    ['statement_timeout', failed('UPDATE t SET x = 1', { code: '57014' })],
    ['no pooled connection in time', { message: 'timeout exceeded when trying to connect' }],
    ['a connect that timed out', { message: 'Connection terminated due to connection timeout' }],
    ['a refused connection', { code: 'ECONNREFUSED' }],
    ['a query before the COMMIT lost its connection', failed('INSERT INTO t VALUES (1)', { code: 'ECONNRESET' })],
  ])('%s → 503 "database unavailable"', (_what, err) => {
    expect(answer(err)).toEqual({ status: 503, message: DATABASE_UNAVAILABLE });
  });

  it('a COMMIT without an answer → 503 saying the write may have been applied and a retry with the key is safe', () => {
    expect(answer(failed('COMMIT', { message: 'Query read timeout' }))).toEqual({
      status: 503,
      message: COMMIT_OUTCOME_UNKNOWN,
    });
    expect(COMMIT_OUTCOME_UNKNOWN).toMatch(/^database unavailable: the write may have been applied/);
    expect(COMMIT_OUTCOME_UNKNOWN).toMatch(/same Idempotency-Key is safe/);
  });

  it('a COMMIT that Postgres cancelled rolled back: plain "database unavailable"', () => {
    expect(answer(failed('COMMIT', { code: '57014' }))).toEqual({ status: 503, message: DATABASE_UNAVAILABLE });
  });

  it('a lock that was not available → 409, retry', () => {
    expect(answer(failed('SELECT 1 FOR UPDATE NOWAIT', { code: '55P03' }))).toEqual({
      status: 409,
      message: expect.stringMatching(/locked by a concurrent request; retry/),
    });
  });

  it('passes HttpExceptions through and leaves unknown errors unmapped (a 500)', () => {
    const http = new BadRequestException('x');
    expect(toHttpException(http)).toBe(http);
    expect(toHttpException(new Error('boom'))).toBeUndefined();
    expect(toHttpException(new HttpException('teapot', 418))).toBeInstanceOf(HttpException);
  });
});
