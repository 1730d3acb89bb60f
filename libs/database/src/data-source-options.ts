import { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { HangSafeClient } from './hang-safe-client';

/** DATABASE_TIMEOUT_MS when a caller gives none (libs/config has the same default). */
export const DEFAULT_DATABASE_TIMEOUT_MS = 5000;
/** Connecting takes milliseconds; a server that has not answered a connect in this long will not. */
const MAX_CONNECT_TIMEOUT_MS = 3000;

/** The bounds every connection of the pool runs under, all derived from DATABASE_TIMEOUT_MS. */
export interface DatabaseTimeouts {
  /**
   * pg's `query_timeout`: the client gives up on an answer after this long, and HangSafeClient then closes the
   * connection (a hung server or network never answers; Postgres rolls back whatever the connection left open).
   */
  queryTimeoutMs: number;
  /**
   * Postgres's `statement_timeout`, a little below the client's: a live but slow server (a long lock wait, a slow
   * plan) cancels the statement itself (57014) and the connection stays usable.
   */
  statementTimeoutMs: number;
  /**
   * pg-pool's `connectionTimeoutMillis`: bounds both the wait for a free pooled connection and a new connect,
   * so requests queued behind a pool of hung connections get their 503 in time too.
   */
  connectTimeoutMs: number;
  /**
   * Postgres's `idle_in_transaction_session_timeout`: a transaction whose client went silent (partitioned, so
   * Postgres never sees the connection close) is ended, with its locks, after this long.
   */
  idleInTransactionTimeoutMs: number;
}

export function databaseTimeouts(timeoutMs: number = DEFAULT_DATABASE_TIMEOUT_MS): DatabaseTimeouts {
  const margin = Math.min(500, Math.floor(timeoutMs / 10));
  return {
    queryTimeoutMs: timeoutMs,
    statementTimeoutMs: timeoutMs - margin,
    connectTimeoutMs: Math.min(timeoutMs, MAX_CONNECT_TIMEOUT_MS),
    idleInTransactionTimeoutMs: 2 * timeoutMs,
  };
}

export interface DataSourceSettings {
  url: string;
  /** Shown in pg_stat_activity, so an operator can tell the processes apart. */
  applicationName: string;
  /** The migrations of the app that owns the schemas this process uses (each app keeps its own). */
  migrations: PostgresConnectionOptions['migrations'];
  /** Where applied migrations are recorded; each owner of a migration list has its own table. */
  migrationsTableName: string;
  /** DATABASE_TIMEOUT_MS (default 5000): the longest a caller waits for Postgres; see databaseTimeouts(). */
  timeoutMs?: number;
}

/**
 * Connection settings shared by every process of the cachegate database.
 * Timeouts are short on purpose: a dead or hung Postgres must turn into a 503
 * within DATABASE_TIMEOUT_MS, never a request that hangs.
 */
export function dataSourceOptions(settings: DataSourceSettings): PostgresConnectionOptions {
  const timeouts = databaseTimeouts(settings.timeoutMs);
  return {
    type: 'postgres',
    url: settings.url,
    migrations: settings.migrations,
    migrationsTableName: settings.migrationsTableName,
    migrationsRun: false,
    synchronize: false,
    applicationName: settings.applicationName,
    // TypeORM hands this to pg-pool as connectionTimeoutMillis: the acquire wait and the connect.
    connectTimeoutMS: timeouts.connectTimeoutMs,
    extra: {
      max: 10,
      idleTimeoutMillis: 30_000,
      statement_timeout: timeouts.statementTimeoutMs,
      query_timeout: timeouts.queryTimeoutMs,
      idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs,
      // The pool's client class: closes a connection whose query got no answer in time (hang-safe-client.ts).
      Client: HangSafeClient,
    },
  };
}
