import { Logger } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { Client } from 'pg';
import { CdcEvent, MESSAGE_VERSION, streamPattern } from './cdc-event';
import { RedisStreamsClient } from './redis-streams.client';

export interface OutboxRelayOptions {
  databaseUrl: string;
  /** Domains published to more than their row's schema version (CDC_DUAL_PUBLISH). */
  dualPublish: Record<string, number[]>;
  /** Published rows older than this are deleted. */
  retentionMs: number;
  pollMs?: number;
  batchSize?: number;
}

/** A row of cdc.outbox as the relay reads it. */
export interface OutboxRow {
  id: string;
  event_id: string;
  domain: string;
  type: string;
  aggregate_type: string;
  aggregate_id: string;
  source: string;
  data: Record<string, unknown>;
  keys: string[];
  schema_version: number;
  occurred_at: Date;
}

const LEADER_LOCK = 'cachegate:outbox-relay';
const PRUNE_EVERY_MS = 60_000;

/**
 * Publishes outbox rows to Redis Streams (SPEC §6.1).
 *
 * - Leadership: exactly one relay publishes at a time, the one holding a
 *   session advisory lock on its own Postgres connection. When that process
 *   dies its connection closes, the lock is freed, and another relay's next
 *   attempt (every pollMs) takes over.
 * - It wakes on NOTIFY cachegate_cdc (sent by the capture triggers at commit)
 *   and polls every pollMs as a fallback.
 * - It publishes *unpublished rows* in capture order, never "everything after
 *   the last id": a transaction that took id 5 but commits after id 6 was
 *   published is still picked up. Rows are marked published only after XADD
 *   succeeded, so a crash in between republishes (consumers are idempotent)
 *   and Redis being down just leaves rows waiting.
 */
export class OutboxRelay {
  private readonly logger = new Logger('OutboxRelay');
  private readonly pollMs: number;
  private readonly batchSize: number;
  private connection: Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private busy: Promise<void> | undefined;
  private again = false;
  private lastPrune = 0;
  leader = false;
  published = 0;
  lastPublishedAt: Date | undefined;

  constructor(
    private readonly publisher: RedisStreamsClient,
    private readonly options: OutboxRelayOptions,
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.batchSize = options.batchSize ?? 500;
  }

  start(): void {
    this.running = true;
    void this.publisher.connect().catch(() => undefined);
    this.wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.busy;
    await this.dropConnection();
    await this.publisher.close();
  }

  /** Runs a pass now (or right after the running one): NOTIFY and the poll timer both land here. */
  wake(): void {
    if (!this.running) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.busy = this.pass()
      .catch((err: unknown) => this.logger.warn(`relay pass failed: ${(err as Error).message}`))
      .finally(() => {
        this.busy = undefined;
        if (!this.running) return;
        if (this.again) {
          this.again = false;
          this.wake();
        } else {
          this.timer = setTimeout(() => this.wake(), this.pollMs);
        }
      });
  }

  private async pass(): Promise<void> {
    if (!this.leader && !(await this.tryLead())) return;
    try {
      await this.drain();
      if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) await this.prune();
    } catch (err) {
      // A lost Postgres connection means a lost lock: step down and compete again.
      if (
        !this.connection ||
        (err as { code?: string }).code?.startsWith('57P') ||
        /terminat|closed|ECONN/i.test(String((err as Error).message))
      ) {
        await this.dropConnection();
      }
      throw err;
    }
  }

  private async tryLead(): Promise<boolean> {
    if (!this.connection) {
      const connection = new Client({
        connectionString: this.options.databaseUrl,
        application_name: 'cachegate-relay',
      });
      connection.on('error', () => void this.dropConnection());
      connection.on('notification', () => this.wake());
      await connection.connect();
      this.connection = connection;
    }
    const [{ locked }] = (
      await this.connection.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [
        LEADER_LOCK,
      ])
    ).rows;
    if (locked) {
      await this.connection.query('LISTEN cachegate_cdc');
      this.leader = true;
      this.logger.log('this process is now the active outbox relay');
    }
    return locked;
  }

  private async drain(): Promise<void> {
    const connection = this.connection!;
    while (this.running) {
      const { rows } = await connection.query<OutboxRow>(
        `SELECT id, event_id, domain, type, aggregate_type, aggregate_id, source, data, keys, schema_version, occurred_at
           FROM cdc.outbox WHERE published_at IS NULL ORDER BY id LIMIT $1`,
        [this.batchSize],
      );
      if (rows.length === 0) return;
      // emit() is hot: all XADDs go out on one connection in capture order before we wait.
      const sends = rows.flatMap((row) =>
        this.envelopes(row).map(([pattern, event]) => lastValueFrom(this.publisher.emit(pattern, event))),
      );
      await Promise.all(sends);
      await connection.query('UPDATE cdc.outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [
        rows.map((r) => r.id),
      ]);
      this.published += rows.length;
      this.lastPublishedAt = new Date();
      if (rows.length < this.batchSize) return;
    }
  }

  /** One envelope per stream version the row goes to (its own, plus dual-publish versions). */
  private envelopes(row: OutboxRow): [string, CdcEvent][] {
    const versions = new Set([row.schema_version, ...(this.options.dualPublish[row.domain] ?? [])]);
    return [...versions].map((schemaVersion) => [
      streamPattern(row.domain, schemaVersion),
      {
        id: row.event_id,
        type: row.type,
        messageVersion: MESSAGE_VERSION,
        schemaVersion,
        source: row.source,
        occurredAt: row.occurred_at.toISOString(),
        aggregate: { type: row.aggregate_type, id: row.aggregate_id },
        data: row.data,
        ...(row.keys.length > 0 ? { keys: row.keys } : {}),
      },
    ]);
  }

  private async prune(): Promise<void> {
    this.lastPrune = Date.now();
    const { rowCount } = await this.connection!.query(
      `DELETE FROM cdc.outbox WHERE published_at < now() - make_interval(secs => $1)`,
      [this.options.retentionMs / 1000],
    );
    if (rowCount) this.logger.log(`pruned ${rowCount} published outbox rows`);
  }

  private async dropConnection(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (this.leader) this.logger.warn('stepped down as outbox relay');
    this.leader = false;
    await connection?.end().catch(() => undefined);
  }
}

/** `30m`, `24h`, `7d` → milliseconds. */
export function durationMs(value: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(value);
  if (!match) throw new Error(`not a duration: ${value}`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
