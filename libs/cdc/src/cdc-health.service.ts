import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { CAPTURE_RESUMED_INSTALLED_SQL } from './capture-triggers';
import { CONSUMER_GROUP } from './cdc-event';
import { consumerGroup } from './consumer-group';
import { CdcStats } from './cdc-stats';
import { CDC_OPTIONS, CdcModuleOptions } from './cdc.options';
import { OutboxRelay } from './outbox-relay';
import { RedisStreamsClient } from './redis-streams.client';

export interface StreamReport {
  length: number;
  lastDeliveredId: string | null;
  pending: number;
  /** Entries not yet delivered to the group (Redis ≥ 7). */
  lag: number | null;
  deadLetters: number;
}

export interface CdcReport {
  timestamp: string;
  streams: Record<string, StreamReport>;
  capture: {
    /** Captured tables (`schema.table`) some of whose capture triggers are disabled or dropped: their changes reach no cache. */
    off: string[];
    /** Whether the event trigger that drops a domain when its table's capture is switched on again is installed and enabled. */
    resumeDrops: boolean;
  };
  totals: { processed: number; failed: number; deadLettered: number; redelivered: number; trimmed: number };
  relay: {
    backlog: number;
    /** Age of the oldest unpublished outbox row (database clock: now() - occurred_at); null when none waits. */
    oldestUnpublishedAgeMs: number | null;
    lastPublishedAt: string | null;
    activeHere: boolean;
    /** This process's relay: its last publish attempt's error, null when it succeeded (or none was made). */
    lastPublishError: { message: string; at: string; oom: boolean } | null;
  };
  invalidationLagMs: { p50: number | null; p99: number | null; max: number | null };
}

/** Gathers /health/cdc (docs/contract.md §4) from Redis (streams, group), Postgres (outbox) and this process's counters. */
@Injectable()
export class CdcHealthService {
  constructor(
    @Inject(CDC_OPTIONS) private readonly options: CdcModuleOptions,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly publisher: RedisStreamsClient,
    private readonly stats: CdcStats,
    private readonly outboxRelay: OutboxRelay,
  ) {}

  async report(): Promise<CdcReport> {
    const [streams, capture, relay] = await Promise.all([this.streams(), this.capture(), this.relay()]);
    const { processed, failed, deadLettered, redelivered, trimmed } = this.stats;
    return {
      timestamp: new Date().toISOString(),
      streams,
      capture,
      totals: { processed, failed, deadLettered, redelivered, trimmed },
      relay,
      invalidationLagMs: this.stats.invalidationLag.summary(),
    };
  }

  async relay(): Promise<CdcReport['relay']> {
    // Ages by the database's clock, the one occurred_at was taken with.
    const [row] = await this.dataSource.query(
      `SELECT u.backlog, u.age AS "oldestUnpublishedAgeMs",
              (SELECT max(published_at) FROM cdc.outbox WHERE published_at IS NOT NULL) AS "lastPublishedAt"
         FROM (SELECT count(*)::int AS backlog,
                      round(extract(epoch FROM now() - min(occurred_at)) * 1000)::float8 AS age
                 FROM cdc.outbox WHERE published_at IS NULL) u`,
    );
    const error = this.outboxRelay.lastPublishError;
    return {
      backlog: row.backlog,
      // A row committed just after this statement's now() can be a fraction of a millisecond "younger" than now.
      oldestUnpublishedAgeMs: row.oldestUnpublishedAgeMs === null ? null : Math.max(0, row.oldestUnpublishedAgeMs),
      lastPublishedAt: row.lastPublishedAt ? new Date(row.lastPublishedAt).toISOString() : null,
      activeHere: this.options.relayActive(),
      lastPublishError: error ? { message: error.message, at: error.at.toISOString(), oom: error.oom } : null,
    };
  }

  /**
   * Captured tables whose capture is not on for every change (cdc.captured_tables(), migration 1763700800000): a
   * capture trigger disabled (`ALTER TABLE … DISABLE TRIGGER`, `tgenabled` D; R fires for replication sessions
   * only) or dropped. A table counts as captured while it has any of the four; one with none left cannot be told
   * from a table never captured.
   */
  async capture(): Promise<CdcReport['capture']> {
    const [{ off, resumeDrops }]: { off: string[]; resumeDrops: boolean }[] = await this.dataSource.query(
      `SELECT coalesce(array_agg(name ORDER BY name) FILTER (WHERE NOT capture_on), '{}') AS off,
              ${CAPTURE_RESUMED_INSTALLED_SQL} AS "resumeDrops"
         FROM cdc.captured_tables()`,
    );
    return { off, resumeDrops };
  }

  async streams(): Promise<Record<string, StreamReport>> {
    const redis = await this.publisher.connect();
    const report: Record<string, StreamReport> = {};
    for (const pattern of this.options.streams) {
      report[pattern] = await this.stream(redis, this.options.prefix + pattern);
    }
    return report;
  }

  private async stream(redis: Redis, name: string): Promise<StreamReport> {
    const [length, deadLetters] = await Promise.all([redis.xlen(name), redis.xlen(`${name}:dlq`)]);
    // None before anything was published and anybody subscribed.
    const group = await consumerGroup(redis, name, CONSUMER_GROUP);
    const lastDeliveredId = (group?.['last-delivered-id'] as string) ?? null;
    let lag = group?.lag === undefined || group.lag === null ? null : Number(group.lag);
    // Redis's lag is entries-added minus the group's entries-read, and Redis 7.0 does not replicate
    // entries-read (redis/redis#12898): after a failover a promoted replica can report a lag forever. When no
    // entry follows the last delivered one, there is none to deliver, whatever the counter says.
    if (
      lastDeliveredId &&
      lag !== 0 &&
      (await redis.xrange(name, `(${lastDeliveredId}`, '+', 'COUNT', 1)).length === 0
    ) {
      lag = 0;
    }
    return { length, lastDeliveredId, pending: Number(group?.pending ?? 0), lag, deadLetters };
  }
}
