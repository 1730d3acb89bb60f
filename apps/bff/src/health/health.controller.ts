import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { PROBE_TIMEOUT_MS, RedisHealthIndicator } from '@app/cache';
import { CdcHealthIndicator } from '@app/cdc';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly cdc: CdcHealthIndicator,
  ) {}

  /** 200 when every dependency is up, 503 otherwise (Terminus's `{status, info, error, details}`). */
  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('database', { timeout: PROBE_TIMEOUT_MS }),
      () => this.redis.isHealthy('redis'),
      () => this.cdc.isHealthy('cdc'),
    ]);
  }
}
