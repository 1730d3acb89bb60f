import { DynamicModule, Module } from '@nestjs/common';
import { AppConfigModule, AppConfigOptions } from '@app/config';
import { DatabaseModule } from '@app/database';
import { MetricsModule } from '@app/http';
import { DemoModule } from './demo/demo.module';
import { HealthModule } from './health/health.module';
import { InvoicesModule } from './invoices/invoices.module';
import { BILLING_MIGRATIONS, BILLING_MIGRATIONS_TABLE } from './migrations';
import { StatsModule } from './stats/stats.module';

/**
 * apps/billing: an independent upstream service with its own schema (`billing`,
 * its own migrations and migrations table, BILLING_DATABASE_URL) and its own
 * API. It shares only the infrastructure libraries with the BFF, no domain code.
 */
@Module({})
export class BillingModule {
  static forRoot(options: AppConfigOptions = {}): DynamicModule {
    return {
      module: BillingModule,
      imports: [
        AppConfigModule.forRoot(options),
        MetricsModule,
        DatabaseModule.forRoot({
          applicationName: 'cachegate-billing',
          urlVariable: 'BILLING_DATABASE_URL',
          migrations: BILLING_MIGRATIONS,
          migrationsTableName: BILLING_MIGRATIONS_TABLE,
        }),
        HealthModule,
        StatsModule,
        InvoicesModule,
        DemoModule,
      ],
    };
  }
}
