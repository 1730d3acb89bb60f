import { DynamicModule, Module } from '@nestjs/common';
import { AppConfigModule, AppConfigOptions } from '@app/config';
import { DatabaseModule } from '@app/database';
import { CacheModule } from '@app/cache';
import { CdcModule } from '@app/cdc';
import { MetricsModule } from '@app/http';
import { CDC_STREAMS } from './cdc-domains.module';
import { DemoModule } from './demo/demo.module';
import { DomainsModule } from './domains.module';
import { HealthModule } from './health/health.module';
import { BFF_MIGRATIONS, BFF_MIGRATIONS_TABLE } from './migrations';

/** The BFF: configuration and infrastructure first, then the domain modules. */
@Module({})
export class AppModule {
  static forRoot(options: AppConfigOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(options),
        MetricsModule,
        DatabaseModule.forRoot({
          applicationName: 'cachegate-bff',
          migrations: BFF_MIGRATIONS,
          migrationsTableName: BFF_MIGRATIONS_TABLE,
        }),
        CacheModule.forRoot(),
        CdcModule.forRoot({ streams: CDC_STREAMS, http: true }),
        HealthModule,
        DomainsModule,
        DemoModule,
      ],
    };
  }
}
