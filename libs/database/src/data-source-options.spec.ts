import { dataSourceOptions } from './data-source-options';

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
