import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../libs/database/src/data-source-options';
import { runMigrationsLocked } from '../../libs/database/src/open-data-source';
import {
  createDatabase,
  dropDatabase,
  TEST_DATABASE_PREFIX,
  testDatabaseUrl,
  withMaintenanceClient,
} from './test-database';

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
  const rows = await withMaintenanceClient(async (c) =>
    (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${TEST_DATABASE_PREFIX}%`])).rows,
  );
  for (const { datname } of rows) {
    const pid = Number(datname.slice(TEST_DATABASE_PREFIX.length).split('_')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) await dropDatabase(datname);
  }
}

/**
 * Runs once per `jest` run: migrates a template database that every test file
 * clones (CREATE DATABASE … TEMPLATE is far faster than migrating each time).
 */
export default async function globalSetup(): Promise<void> {
  await dropLeftovers();
  const template = `${TEST_DATABASE_PREFIX}${process.pid}_template`;
  await dropDatabase(template);
  await createDatabase(template);
  const dataSource = await new DataSource(
    dataSourceOptions({ url: testDatabaseUrl(template), applicationName: 'cachegate-test-setup' }),
  ).initialize();
  try {
    await runMigrationsLocked(dataSource, () => undefined);
  } finally {
    await dataSource.destroy();
  }
  process.env.CACHEGATE_TEST_TEMPLATE = template;
  process.env.CACHEGATE_TEST_RUN = String(process.pid);
}
