import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { EnvironmentVariables } from '@app/config';
import { withAdvisoryLock } from '@app/database';
import { InvoicesService } from '../invoices/invoices.service';
import { demoInvoices } from './demo-invoices';

const SEED_LOCK_KEY = 'cachegate:billing-demo-seed';

/**
 * Loads the demo invoices on the first start in development, through the
 * invoices service (the same rules as API writes). "First start" means
 * billing.invoices is empty; an advisory lock keeps two instances booting
 * together from seeding twice.
 */
@Injectable()
export class DemoSeedService implements OnApplicationBootstrap {
  private readonly logger = new Logger(DemoSeedService.name);

  constructor(
    private readonly config: ConfigService<EnvironmentVariables, true>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly invoices: InvoicesService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.get('NODE_ENV') !== 'development') return;
    await withAdvisoryLock(this.dataSource, SEED_LOCK_KEY, async () => {
      if (await this.invoices.isEmpty()) await this.seed();
    });
  }

  private async seed(): Promise<void> {
    const invoices = demoInvoices();
    for (const { accountId, ...invoice } of invoices) await this.invoices.create(accountId, invoice);
    this.logger.log(
      `loaded demo data: ${invoices.length} invoices for ${new Set(invoices.map((i) => i.accountId)).size} accounts`,
    );
  }
}
