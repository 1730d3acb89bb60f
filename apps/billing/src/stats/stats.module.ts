import { Module } from '@nestjs/common';
import { ResponseStats } from './response-stats';
import { StatsController } from './stats.controller';

@Module({
  controllers: [StatsController],
  providers: [ResponseStats],
  exports: [ResponseStats],
})
export class StatsModule {}
