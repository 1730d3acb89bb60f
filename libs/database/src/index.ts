export { DatabaseModule, DatabaseModuleOptions } from './database.module';
export {
  dataSourceOptions,
  DataSourceSettings,
  databaseTimeouts,
  DatabaseTimeouts,
  DEFAULT_DATABASE_TIMEOUT_MS,
} from './data-source-options';
export { closeClient, HangSafeClient, QUERY_READ_TIMEOUT } from './hang-safe-client';
export { openDataSource, runMigrationsLocked, DatabaseUnreachableError } from './open-data-source';
export { parseDatabaseUrl, withDatabase, quoteIdentifier } from './database-url';
export {
  isDatabaseUnavailable,
  uniqueViolation,
  isForeignKeyViolation,
  isCheckViolation,
  isDataException,
  isSerializationFailure,
  isCommitOutcomeUnknown,
  isLockNotAvailable,
} from './database-errors';
export { withAdvisoryLock } from './advisory-lock';
