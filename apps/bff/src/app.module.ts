import { DynamicModule, Module } from '@nestjs/common';
import { AppConfigModule, AppConfigOptions } from '@app/config';
import { DatabaseModule } from '@app/database';
import { CacheModule } from '@app/cache';
import { CdcModule } from '@app/cdc';
import { LoggingModule, MetricsModule } from '@app/http';
import { CatalogModule } from './catalog/catalog.module';
import { DemoModule } from './demo/demo.module';
import { HealthModule } from './health/health.module';
import { OrdersModule } from './orders/orders.module';

/** The streams the BFF's domains publish to and consume. */
export const CDC_STREAMS = ['cdc.catalog.v1', 'cdc.orders.v1'];

/** The BFF: configuration and infrastructure first, then the domain modules. */
@Module({})
export class AppModule {
  static forRoot(options: AppConfigOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(options),
        LoggingModule,
        MetricsModule,
        DatabaseModule.forRoot({ applicationName: 'cachegate-bff' }),
        CacheModule.forRoot(),
        CdcModule.forRoot({ streams: CDC_STREAMS, http: true }),
        HealthModule,
        CatalogModule,
        OrdersModule,
        DemoModule,
      ],
    };
  }
}
