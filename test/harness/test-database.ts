import { Client } from 'pg';
import { parseDatabaseUrl, quoteIdentifier, withDatabase } from '@app/database';

/** Where the test servers are; override with TEST_DATABASE_URL / TEST_REDIS_URL. */
export const TEST_SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Test databases are named `cachegate_test_<pid of the run>_<suffix>`, so leftovers of a dead run can be found. */
export const TEST_DATABASE_PREFIX = 'cachegate_test_';

export async function withMaintenanceClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: parseDatabaseUrl(TEST_SERVER_URL).maintenanceUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export function testDatabaseUrl(name: string): string {
  return withDatabase(TEST_SERVER_URL, name);
}

export async function createDatabase(name: string, template?: string): Promise<void> {
  await withMaintenanceClient((c) =>
    c.query(`CREATE DATABASE ${quoteIdentifier(name)}${template ? ` TEMPLATE ${quoteIdentifier(template)}` : ''}`),
  );
}

export async function dropDatabase(name: string): Promise<void> {
  await withMaintenanceClient((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`));
}
