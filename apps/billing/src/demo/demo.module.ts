import { Module } from '@nestjs/common';
import { InvoicesModule } from '../invoices/invoices.module';
import { DemoSeedService } from './demo-seed.service';

@Module({
  imports: [InvoicesModule],
  providers: [DemoSeedService],
})
export class DemoModule {}
