import { DynamicModule, Module } from '@nestjs/common';
import { CacheModule } from '@app/cache';
import { CdcModule } from '@app/cdc';
import { AppConfigModule, AppConfigOptions } from '@app/config';
import { DatabaseModule } from '@app/database';
import { CDC_STREAMS, CdcDomainsModule } from '../../bff/src/cdc-domains.module';

/**
 * The outbox relay and the CDC subscriber without HTTP, for deployments that
 * scale BFF instances separately (run those with CDC_RELAY=false
 * CDC_SUBSCRIBER=false). It reuses the BFF domains' cache and CDC handlers.
 */
@Module({})
export class CacheSyncModule {
  static forRoot(options: AppConfigOptions = {}): DynamicModule {
    return {
      module: CacheSyncModule,
      imports: [
        AppConfigModule.forRoot(options),
        DatabaseModule.forRoot({ applicationName: 'cachegate-cache-sync' }),
        CacheModule.forRoot({ http: false }),
        CdcModule.forRoot({ streams: CDC_STREAMS, http: false }),
        CdcDomainsModule,
      ],
    };
  }
}
