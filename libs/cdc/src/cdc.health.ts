import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import type { EnvironmentVariables } from '@app/config';
import { CdcHealthService } from './cdc-health.service';
import { CdcStats } from './cdc-stats';

const PROBE_TIMEOUT_MS = 1000;

/**
 * Terminus indicator `cdc`: up while the subscriber (if this process runs one)
 * is consuming, every stream's group lag is under CDC_LAG_ALERT, the relay
 * backlog is under the same limit, the oldest unpublished change is younger
 * than CDC_LAG_ALERT_MS, and this process's relay was not refused by a Redis
 * out of memory (OOM) at its last publish with nothing published since, and
 * every captured table's capture triggers are in place and enabled.
 * Postgres (outbox) and Redis (streams) are probed separately, so a lag is
 * reported even while Redis does not answer.
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
    const ageLimit = this.config.get('CDC_LAG_ALERT_MS');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('cdc probe timed out')), PROBE_TIMEOUT_MS);
    });
    const [streams, relay, capture] = await Promise.allSettled([
      Promise.race([this.report.streams(), timeout]),
      Promise.race([this.report.relay(), timeout]),
      Promise.race([this.report.capture(), timeout]),
    ]).finally(() => clearTimeout(timer));
    const problems: string[] = [];
    const details: Record<string, unknown> = {};
    if (this.config.get('CDC_SUBSCRIBER') && !this.stats.consuming) problems.push('subscriber is not consuming');
    if (streams.status === 'rejected') {
      problems.push(`streams: ${(streams.reason as Error).message}`);
    } else {
      for (const [name, s] of Object.entries(streams.value)) {
        if ((s.lag ?? 0) > limit) problems.push(`${name} lag ${s.lag} > ${limit}`);
      }
      details.lag = Object.fromEntries(Object.entries(streams.value).map(([n, s]) => [n, s.lag]));
    }
    if (relay.status === 'rejected') {
      problems.push(`outbox: ${(relay.reason as Error).message}`);
    } else {
      const { backlog, oldestUnpublishedAgeMs: age, lastPublishError: failure, lastPublishedAt } = relay.value;
      details.backlog = backlog;
      details.oldestUnpublishedAgeMs = age;
      if (backlog > limit) problems.push(`relay backlog ${backlog} > ${limit}`);
      if (age !== null && age > ageLimit) {
        problems.push(`oldest unpublished change is ${age} ms old (CDC_LAG_ALERT_MS=${ageLimit})`);
      }
      // Cleared by this relay's next successful publish; another relay's publish since then means Redis took writes.
      if (failure?.oom && backlog > 0 && (!lastPublishedAt || Date.parse(lastPublishedAt) < Date.parse(failure.at))) {
        problems.push(
          `Redis is out of memory (OOM, maxmemory reached, writes refused): the relay's last publish failed: ${failure.message}`,
        );
      }
    }
    // A rejected capture query is the outbox's problem too (same database), reported once above.
    if (capture.status === 'fulfilled' && capture.value.off.length > 0) {
      const tables = capture.value.off.join(', ');
      problems.push(
        `capture is off on ${tables} (its capture triggers are disabled or dropped): their changes reach no cache`,
      );
    }
    return problems.length === 0 ? indicator.up(details) : indicator.down({ ...details, message: problems.join('; ') });
  }
}
