import { DynamicModule, Module } from '@nestjs/common';
import { CacheModule } from '@app/cache';
import { CdcModule } from '@app/cdc';
import { AppConfigModule, AppConfigOptions } from '@app/config';
import { DatabaseModule } from '@app/database';
import { CDC_STREAMS, CdcDomainsModule } from './cdc-domains.module';
import { BFF_MIGRATIONS, BFF_MIGRATIONS_TABLE } from './migrations';

/**
 * The outbox relay and the CDC subscriber without HTTP, for deployments that
 * scale BFF instances separately (run those with CDC_RELAY=false
 * CDC_SUBSCRIBER=false): the BFF's second entry point (cache-sync.main.ts),
 * with the same domains' caches and CDC handlers and none of the HTTP API.
 */
@Module({})
export class CacheSyncModule {
  static forRoot(options: AppConfigOptions = {}): DynamicModule {
    return {
      module: CacheSyncModule,
      imports: [
        AppConfigModule.forRoot(options),
        DatabaseModule.forRoot({
          applicationName: 'cachegate-cache-sync',
          migrations: BFF_MIGRATIONS,
          migrationsTableName: BFF_MIGRATIONS_TABLE,
        }),
        CacheModule.forRoot({ http: false }),
        CdcModule.forRoot({ streams: CDC_STREAMS, http: false }),
        CdcDomainsModule,
      ],
    };
  }
}
