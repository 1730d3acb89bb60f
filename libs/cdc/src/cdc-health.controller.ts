import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CdcHealthService, CdcReport } from './cdc-health.service';

@ApiTags('health')
@Controller('health')
export class CdcHealthController {
  constructor(private readonly cdc: CdcHealthService) {}

  /** Streams, consumer group, relay backlog and invalidation lag (SPEC §4). */
  @Get('cdc')
  async report(): Promise<CdcReport> {
    try {
      return await this.cdc.report();
    } catch (err) {
      throw new ServiceUnavailableException(`cdc state unavailable: ${(err as Error).message}`);
    }
  }
}
