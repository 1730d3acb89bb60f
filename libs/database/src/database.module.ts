import { DynamicModule, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { EnvironmentVariables } from '@app/config';
import { dataSourceOptions } from './data-source-options';
import { openDataSource } from './open-data-source';

export interface DatabaseModuleOptions {
  applicationName: string;
}

/** TypeORM over the cachegate database, migrated before the app listens (never `synchronize`). */
@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseModuleOptions): DynamicModule {
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
            ...dataSourceOptions({ url: config.get('DATABASE_URL'), applicationName: options.applicationName }),
            autoLoadEntities: true,
            // Boot fails fast with one clear line instead of retrying for half a minute.
            retryAttempts: 0,
            };
          },
          dataSourceFactory: async (opts) => {
            if (!opts) throw new Error('missing data source options');
            return openDataSource(opts, { createIfMissing });
          },
        }),
      ],
    };
  }
}
