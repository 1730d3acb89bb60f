import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import type { EnvironmentVariables } from '@app/config';
import { CdcHealthService } from './cdc-health.service';
import { CdcStats } from './cdc-stats';

const PROBE_TIMEOUT_MS = 1000;

/**
 * Terminus indicator `cdc`: up while the subscriber (if this process runs one)
 * is consuming, every stream's group lag is under CDC_LAG_ALERT, and the relay
 * backlog is under the same limit.
 */
@Injectable()
export class CdcHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly report: CdcHealthService,
    private readonly stats: CdcStats,
    @Inject(ConfigService) private readonly config: ConfigService<EnvironmentVariables, true>,
  ) {}

  async isHealthy(key = 'cdc'): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    const limit = this.config.get('CDC_LAG_ALERT');
    try {
      const [streams, relay] = await Promise.race([
        Promise.all([this.report.streams(), this.report.relay()]),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('cdc probe timed out')), PROBE_TIMEOUT_MS).unref(),
        ),
      ]);
      const problems: string[] = [];
      if (this.config.get('CDC_SUBSCRIBER') && !this.stats.consuming) problems.push('subscriber is not consuming');
      for (const [name, s] of Object.entries(streams)) {
        if ((s.lag ?? 0) > limit) problems.push(`${name} lag ${s.lag} > ${limit}`);
      }
      if (relay.backlog > limit) problems.push(`relay backlog ${relay.backlog} > ${limit}`);
      const details = {
        backlog: relay.backlog,
        lag: Object.fromEntries(Object.entries(streams).map(([n, s]) => [n, s.lag])),
      };
      return problems.length === 0
        ? indicator.up(details)
        : indicator.down({ ...details, message: problems.join('; ') });
    } catch (err) {
      return indicator.down({ message: (err as Error).message });
    }
  }
}
