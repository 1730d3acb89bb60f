import { isDatabaseUnavailable, isForeignKeyViolation, uniqueViolation } from './database-errors';

describe('database error classification', () => {
  it.each([
    [{ code: 'ECONNREFUSED' }],
    [{ errors: [{ code: 'ECONNREFUSED' }, { code: 'ECONNREFUSED' }] }],
    [{ code: '57P01' }],
    [{ code: '08006' }],
    [{ message: 'timeout exceeded when trying to connect' }],
    [{ driverError: { message: 'Connection terminated unexpectedly' } }],
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

  it('recognises foreign key violations', () => {
    expect(isForeignKeyViolation({ code: '23503' })).toBe(true);
    expect(isForeignKeyViolation({ code: '23505' })).toBe(false);
  });
});
