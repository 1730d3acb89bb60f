import { DynamicModule, Module } from '@nestjs/common';
import { AppConfigModule, AppConfigOptions } from '@app/config';
import { DatabaseModule } from '@app/database';
import { LoggingModule } from '@app/http';
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
        DatabaseModule.forRoot({ applicationName: 'cachegate-bff' }),
        HealthModule,
        CatalogModule,
        OrdersModule,
        DemoModule,
      ],
    };
  }
}
