import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ResponseStats, StatsView } from './response-stats';

@ApiTags('ops')
@Controller('stats')
export class StatsController {
  constructor(private readonly stats: ResponseStats) {}

  /**
   * Test and ops aid: how many invoice list responses this process has sent,
   * `{listResponses: {200: n, 304: m}}` (200 = a body was sent, 304 = Not Modified).
   * Counters are per process and start at zero; compare two readings.
   */
  @Get()
  read(): StatsView {
    return this.stats.snapshot();
  }
}
