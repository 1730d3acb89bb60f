// Jest runs the global setup without its module mapper: the @app/* aliases resolve through tsconfig-paths.
import 'tsconfig-paths/register';
import { DataSource } from 'typeorm';
import { DataSourceSettings, dataSourceOptions, runMigrationsLocked } from '@app/database';
import { BFF_MIGRATIONS, BFF_MIGRATIONS_TABLE } from '../../apps/bff/src/migrations';
import { BILLING_MIGRATIONS, BILLING_MIGRATIONS_TABLE } from '../../apps/billing/src/migrations';
import {
  createDatabase,
  dropDatabase,
  TEST_DATABASE_PREFIX,
  testDatabaseUrl,
  withMaintenanceClient,
} from './test-database';
import { startRunRedis } from './test-redis';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Drops databases left by test runs whose process is gone (a killed run cannot clean up after itself). */
async function dropLeftovers(): Promise<void> {
  const rows = await withMaintenanceClient(
    async (c) =>
      (
        await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [
          `${TEST_DATABASE_PREFIX}%`,
        ])
      ).rows,
  );
  for (const { datname } of rows) {
    const pid = Number(datname.slice(TEST_DATABASE_PREFIX.length).split('_')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) await dropDatabase(datname);
  }
}

/** Applies one owner's migration list, as that app does at boot (its own migrations table). */
async function migrate(
  url: string,
  owner: Pick<DataSourceSettings, 'migrations' | 'migrationsTableName'>,
): Promise<void> {
  const dataSource = await new DataSource(
    dataSourceOptions({ url, applicationName: 'cachegate-test-setup', ...owner }),
  ).initialize();
  try {
    await runMigrationsLocked(dataSource, () => undefined);
  } finally {
    await dataSource.destroy();
  }
}

/**
 * Runs once per `jest` run: migrates a template database that every test file
 * clones (CREATE DATABASE … TEMPLATE is far faster than migrating each time).
 * The template holds every app's schemas, as one production database does: the
 * BFF's, and billing's (apps/billing), so a test's billing boots without DDL.
 * With TEST_REDIS_CLUSTER=1 it also starts the Redis Cluster the run's tests use (test-redis.ts).
 */
export default async function globalSetup(): Promise<void> {
  await startRunRedis();
  await dropLeftovers();
  const template = `${TEST_DATABASE_PREFIX}${process.pid}_template`;
  await dropDatabase(template);
  await createDatabase(template);
  const url = testDatabaseUrl(template);
  await migrate(url, { migrations: BFF_MIGRATIONS, migrationsTableName: BFF_MIGRATIONS_TABLE });
  await migrate(url, { migrations: BILLING_MIGRATIONS, migrationsTableName: BILLING_MIGRATIONS_TABLE });
  process.env.CACHEGATE_TEST_TEMPLATE = template;
  process.env.CACHEGATE_TEST_RUN = String(process.pid);
}
