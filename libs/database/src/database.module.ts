import { DynamicModule, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { EnvironmentVariables } from '@app/config';
import { DataSourceSettings, dataSourceOptions } from './data-source-options';
import { openDataSource } from './open-data-source';

export interface DatabaseModuleOptions {
  applicationName: string;
  /** The variable holding the connection URL; default DATABASE_URL (apps/billing uses BILLING_DATABASE_URL). */
  urlVariable?: 'DATABASE_URL' | 'BILLING_DATABASE_URL';
  /** The migrations of the app that owns the schemas, and their table. */
  migrations: DataSourceSettings['migrations'];
  migrationsTableName: DataSourceSettings['migrationsTableName'];
}

/** TypeORM over the cachegate database, migrated before the app listens (never `synchronize`). */
@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseModuleOptions): DynamicModule {
    const urlVariable = options.urlVariable ?? 'DATABASE_URL';
    // Set by useFactory (which can inject config), read by dataSourceFactory (which cannot).
    let createIfMissing = false;
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (config: ConfigService<EnvironmentVariables, true>) => {
            createIfMissing = config.get('NODE_ENV') !== 'production';
            return {
              ...dataSourceOptions({
                url: config.get(urlVariable),
                applicationName: options.applicationName,
                migrations: options.migrations,
                migrationsTableName: options.migrationsTableName,
                timeoutMs: config.get('DATABASE_TIMEOUT_MS'),
              }),
              autoLoadEntities: true,
              // Boot fails fast with one clear line instead of retrying for half a minute.
              retryAttempts: 0,
              toRetry: () => false,
            };
          },
          dataSourceFactory: async (opts) => {
            if (!opts) throw new Error('missing data source options');
            return openDataSource(opts, { createIfMissing, urlVariable });
          },
        }),
      ],
    };
  }
}
