import { DynamicModule, Module } from '@nestjs/common';
import { AppConfigModule, AppConfigOptions } from '@app/config';
import { DatabaseModule } from '@app/database';
import { CacheModule } from '@app/cache';
import { LoggingModule, MetricsModule } from '@app/http';
import { CatalogModule } from './catalog/catalog.module';
import { DemoModule } from './demo/demo.module';
import { HealthModule } from './health/health.module';
import { OrdersModule } from './orders/orders.module';

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
        HealthModule,
        CatalogModule,
        OrdersModule,
        DemoModule,
      ],
    };
  }
}
