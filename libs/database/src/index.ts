export { DatabaseModule, DatabaseModuleOptions } from './database.module';
export { dataSourceOptions, DataSourceSettings } from './data-source-options';
export { openDataSource, runMigrationsLocked, DatabaseUnreachableError } from './open-data-source';
export { parseDatabaseUrl, withDatabase, quoteIdentifier } from './database-url';
export {
  isDatabaseUnavailable,
  uniqueViolation,
  isForeignKeyViolation,
  isCheckViolation,
  isDataException,
  isSerializationFailure,
} from './database-errors';
export { withAdvisoryLock } from './advisory-lock';
