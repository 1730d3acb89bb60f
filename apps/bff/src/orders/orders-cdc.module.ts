import { Module } from '@nestjs/common';
import { OrdersCacheService } from './orders-cache.service';
import { OrdersCdcController } from './orders-cdc.controller';

/** The orders cache and its CDC handler, shared by the BFF and apps/cache-sync. */
@Module({
  controllers: [OrdersCdcController],
  providers: [OrdersCacheService],
  exports: [OrdersCacheService],
})
export class OrdersCdcModule {}
