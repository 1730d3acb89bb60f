import { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';

export interface DataSourceSettings {
  url: string;
  /** Shown in pg_stat_activity, so an operator can tell the processes apart. */
  applicationName: string;
  /** The migrations of the app that owns the schemas this process uses (each app keeps its own). */
  migrations: PostgresConnectionOptions['migrations'];
  /** Where applied migrations are recorded; each owner of a migration list has its own table. */
  migrationsTableName: string;
}

/**
 * Connection settings shared by every process of the cachegate database.
 * Timeouts are short on purpose: a dead or hung Postgres must turn into a quick
 * 503, never a request that hangs.
 */
export function dataSourceOptions(settings: DataSourceSettings): PostgresConnectionOptions {
  return {
    type: 'postgres',
    url: settings.url,
    migrations: settings.migrations,
    migrationsTableName: settings.migrationsTableName,
    migrationsRun: false,
    synchronize: false,
    applicationName: settings.applicationName,
    connectTimeoutMS: 3000,
    extra: {
      max: 10,
      idleTimeoutMillis: 30_000,
      statement_timeout: 10_000,
      query_timeout: 12_000,
    },
  };
}
