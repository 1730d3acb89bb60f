import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import { withAdvisoryLock } from './advisory-lock';
import { isDatabaseUnavailable } from './database-errors';
import { parseDatabaseUrl, quoteIdentifier } from './database-url';

/** Thrown at boot when Postgres cannot be reached; its message is the one line an operator needs. */
export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
}

export interface OpenDataSourceOptions {
  /** Create the database when it does not exist (development and tests, never production). */
  createIfMissing: boolean;
  /** The variable an operator sets to point the process elsewhere, named in boot errors; default DATABASE_URL. */
  urlVariable?: string;
}

const MIGRATION_LOCK_KEY = 'cachegate:migrations';
const logger = new Logger('Database');

function unreachable(url: string, err: unknown, urlVariable: string): DatabaseUnreachableError {
  const { host, port } = parseDatabaseUrl(url);
  const reason = (err as { code?: string }).code ?? (err as Error).message;
  return new DatabaseUnreachableError(
    `PostgreSQL is unreachable at ${host}:${port} (${reason}). Start it with ` +
      '`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` ' +
      `or \`docker compose up -d postgres\`, or set ${urlVariable}.`,
  );
}

async function createDatabase(url: string): Promise<void> {
  const { database, maintenanceUrl } = parseDatabaseUrl(url);
  const client = new Client({ connectionString: maintenanceUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${quoteIdentifier(database)}`);
    logger.log(`created database ${database}`);
  } catch (err) {
    // Another process created it between our check and now (42P04, or 23505 when both raced in the catalog).
    const code = (err as { code?: string }).code;
    if (code !== '42P04' && code !== '23505') throw err;
  } finally {
    await client.end();
  }
}

/**
 * Runs pending migrations while holding a Postgres advisory lock, so several
 * instances booting at once apply each migration exactly once.
 */
export async function runMigrationsLocked(
  dataSource: DataSource,
  log: (message: string) => void = (m) => logger.log(m),
): Promise<void> {
  await withAdvisoryLock(dataSource, MIGRATION_LOCK_KEY, async () => {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    for (const m of applied) log(`applied migration ${m.name}`);
  });
}

/** Connects (creating the database if allowed and missing) and migrates, before the app listens. */
export async function openDataSource(options: DataSourceOptions, open: OpenDataSourceOptions): Promise<DataSource> {
  const url = (options as { url?: string }).url ?? '';
  const urlVariable = open.urlVariable ?? 'DATABASE_URL';
  const connect = async () => new DataSource(options).initialize();
  let dataSource: DataSource;
  try {
    dataSource = await connect();
  } catch (err) {
    const missing = (err as { code?: string }).code === '3D000';
    if (missing && open.createIfMissing) {
      await createDatabase(url).catch((e) => {
        throw isDatabaseUnavailable(e) ? unreachable(url, e, urlVariable) : e;
      });
      dataSource = await connect();
    } else if (missing) {
      throw new DatabaseUnreachableError(
        `PostgreSQL database "${parseDatabaseUrl(url).database}" does not exist; create it or set ${urlVariable}.`,
      );
    } else if (isDatabaseUnavailable(err)) {
      throw unreachable(url, err, urlVariable);
    } else {
      throw err;
    }
  }
  await runMigrationsLocked(dataSource);
  return dataSource;
}
