import { databaseTimeouts, dataSourceOptions } from './data-source-options';
import { HangSafeClient } from './hang-safe-client';

describe('dataSourceOptions', () => {
  class Probe0 {}
  const base = {
    url: 'postgres://postgres@127.0.0.1:5432/cachegate',
    applicationName: 'cachegate-test',
    migrations: [Probe0],
    migrationsTableName: 'cachegate_migrations',
  };

  it('runs the migrations of the owning app from its table, never synchronize', () => {
    const options = dataSourceOptions(base);
    expect(options.migrations).toEqual([Probe0]);
    expect(options.migrationsTableName).toBe('cachegate_migrations');
    expect(options).toMatchObject({
      url: base.url,
      applicationName: 'cachegate-test',
      synchronize: false,
      migrationsRun: false,
    });
  });

  it('derives every bound from DATABASE_TIMEOUT_MS (default 5000): nothing waits for Postgres longer', () => {
    for (const [timeoutMs, options] of [
      [5000, dataSourceOptions(base)],
      [5000, dataSourceOptions({ ...base, timeoutMs: 5000 })],
      [1000, dataSourceOptions({ ...base, timeoutMs: 1000 })],
      [20_000, dataSourceOptions({ ...base, timeoutMs: 20_000 })],
    ] as const) {
      const extra = options.extra as Record<string, unknown>;
      expect({ timeoutMs, query: extra.query_timeout }).toEqual({ timeoutMs, query: timeoutMs });
      // Postgres cancels first (a clean 57014, the connection kept), a little inside the bound.
      expect(extra.statement_timeout).toBeLessThan(timeoutMs);
      expect(extra.statement_timeout).toBeGreaterThanOrEqual(timeoutMs * 0.9);
      // The pool's acquire wait and a connect: within the bound, and never more than 3 s.
      expect(options.connectTimeoutMS).toBe(Math.min(timeoutMs, 3000));
      expect(extra.idle_in_transaction_session_timeout).toBe(2 * timeoutMs);
      expect(extra.Client).toBe(HangSafeClient);
    }
  });

  it('keeps a margin between the server’s and the client’s timeout at every size', () => {
    expect(databaseTimeouts(100)).toEqual({
      queryTimeoutMs: 100,
      statementTimeoutMs: 90,
      connectTimeoutMs: 100,
      idleInTransactionTimeoutMs: 200,
    });
    expect(databaseTimeouts(5000).statementTimeoutMs).toBe(4500);
    expect(databaseTimeouts(600_000).statementTimeoutMs).toBe(599_500);
  });

  it('takes another owner’s migrations and table (apps/billing)', () => {
    class Probe1 {}
    const options = dataSourceOptions({ ...base, migrations: [Probe1], migrationsTableName: 'billing_migrations' });
    expect(options.migrations).toEqual([Probe1]);
    expect(options.migrationsTableName).toBe('billing_migrations');
    // Everything else stays shared.
    expect({ ...options, migrations: undefined, migrationsTableName: undefined }).toEqual({
      ...dataSourceOptions(base),
      migrations: undefined,
      migrationsTableName: undefined,
    });
  });
});
