import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CdcEvent, CONSUMER_GROUP, InvalidEnvelopeError, parseEnvelope } from './cdc-event';
import { CdcStats } from './cdc-stats';
import { admit, afterFailure, Envelope, inPlaceRetryDelayMs } from './delivery-policy';
import { RedisStreamsContext } from './redis-streams.context';

export interface RedisStreamsServerOptions {
  redisUrl: string;
  /** CACHE_KEY_PREFIX: stream `<prefix>cdc.catalog.v1` serves pattern `cdc.catalog.v1`. */
  prefix: string;
  consumer: string;
  group?: string;
  /** Pending entries idle longer than this are reclaimed from their (presumably dead) consumer. */
  claimIdleMs: number;
  /** An entry delivered more often than this goes to the dead-letter stream. */
  maxDeliveries: number;
  batchSize?: number;
  blockMs?: number;
  /**
   * Whether what the handlers need is unavailable right now (the cache's Redis down, its circuit breaker
   * open). A handler that fails meanwhile has not failed on its entry: the entry is retried in place with
   * back-off until it applies. Re-reading it would count deliveries and dead-letter a valid invalidation.
   */
  dependencyUnavailable?: () => boolean;
}

type StreamEntry = [id: string, fields: string[] | null];
type StreamBatch = [stream: string, entries: StreamEntry[]][];

const BACKOFF_MAX_MS = 5000;
const DLQ_MAXLEN = 10_000;

function field(fields: string[] | null, name: string): string | undefined {
  if (!fields) return undefined;
  for (let i = 0; i < fields.length - 1; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function readEnvelope(raw: string | undefined): Envelope<CdcEvent> {
  try {
    return { event: parseEnvelope(raw) };
  } catch (err) {
    return { invalid: (err as InvalidEnvelopeError).message };
  }
}

/**
 * A @nestjs/microservices transport over Redis Streams consumer groups
 * (SPEC §6.3). Handlers are plain `@EventPattern('cdc.<domain>.v<N>')` methods.
 *
 * - Group `cache-sync` is created at `0` with MKSTREAM, so nothing published
 *   before the group existed is missed.
 * - On start, and after any failed entry, the consumer first re-reads its own
 *   pending entries one at a time (oldest first), then reads new ones with a
 *   blocking XREADGROUP. Reading the pending list one entry at a time means a
 *   failing entry is retried before anything behind it and only its own
 *   delivery counter grows: entries of one aggregate are applied in order.
 * - An entry is XACKed only after its handler finished. A handler error leaves
 *   it pending; pending entries idle longer than claimIdleMs (a crashed
 *   consumer's, or our own failures) are taken over with XAUTOCLAIM.
 * - An entry that is not a valid envelope, or was delivered more than
 *   maxDeliveries times, is copied to `<stream>:dlq` with the error and acked.
 * - Redis going away: the loop backs off and retries; a stream lost with a
 *   Redis restart is recreated (NOGROUP → create group again).
 * - close() finishes the entry in hand, then stops.
 *
 * Across consumers, entries of one aggregate may be applied by different
 * processes; that is safe because an invalidation only deletes the keys its own
 * event names, and deletions commute.
 */
export class RedisStreamsServer extends Server implements CustomTransportStrategy {
  protected override readonly logger = new Logger('RedisStreamsServer');
  private readonly group: string;
  private readonly batchSize: number;
  private readonly blockMs: number;
  /** Blocking reads only; disconnecting it interrupts a BLOCK on shutdown. */
  private readonly reader: Redis;
  /** Acks, claims, dead letters. */
  private readonly commands: Redis;
  private readonly lastErrors = new Map<string, string>();
  private running = false;
  private loop: Promise<void> | undefined;
  private streams: string[] = [];

  constructor(
    private readonly options: RedisStreamsServerOptions,
    readonly stats: CdcStats = new CdcStats(),
  ) {
    super();
    this.group = options.group ?? CONSUMER_GROUP;
    this.batchSize = options.batchSize ?? 100;
    this.blockMs = options.blockMs ?? 1000;
    const connection = (name: string) =>
      new Redis(options.redisUrl, {
        connectionName: name,
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
      });
    this.reader = connection(`cachegate-cdc-reader:${options.consumer}`);
    this.commands = connection(`cachegate-cdc:${options.consumer}`);
    for (const r of [this.reader, this.commands]) r.on('error', () => undefined); // retried by the loop
  }

  /** Stream names this server consumes (prefix included). */
  get streamNames(): readonly string[] {
    return this.streams;
  }

  listen(callback: (err?: unknown) => void): void {
    this.streams = [...this.messageHandlers.keys()].map((pattern) => this.options.prefix + pattern);
    this.running = true;
    this.loop = this.run();
    callback();
  }

  async close(): Promise<void> {
    this.running = false;
    this.reader.disconnect(); // interrupts a blocking read; an entry being handled is finished first
    await this.loop;
    this.stats.consuming = false;
    this.commands.disconnect();
  }

  on(): never {
    throw new Error('RedisStreamsServer does not emit events');
  }

  unwrap<T>(): T {
    return this.commands as T;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let drainPending = true;
    let lastClaim = 0;
    while (this.running) {
      try {
        await this.connect();
        if (drainPending) {
          await this.ensureGroups();
          drainPending = !(await this.drainPending());
        }
        if (!drainPending && Date.now() - lastClaim >= this.options.claimIdleMs / 2) {
          lastClaim = Date.now();
          if (await this.reclaimIdle()) drainPending = true;
        }
        if (!drainPending) {
          // Connected, groups in place, own backlog handled: blocked in XREADGROUP is consuming too. (Set only
          // after the read returned, /health said "not consuming" for up to blockMs after every (re)start.)
          this.stats.consuming = true;
          drainPending = !(await this.readNew());
        }
        this.stats.consuming = true;
        failures = 0;
      } catch (err) {
        if (!this.running) break;
        this.stats.consuming = false;
        drainPending = true;
        const message = (err as Error).message ?? String(err);
        if (failures === 0) this.logger.warn(`stream consumption interrupted: ${message}; retrying`);
        failures++;
      }
      if (failures > 0 || drainPending) await sleep(Math.min(100 * 2 ** Math.max(0, failures - 1), BACKOFF_MAX_MS));
    }
  }

  private async connect(): Promise<void> {
    for (const r of [this.reader, this.commands]) {
      if (r.status === 'wait' || r.status === 'end') await r.connect();
      else if (r.status !== 'ready') throw new Error(`redis ${r.status}`);
    }
  }

  private async ensureGroups(): Promise<void> {
    for (const stream of this.streams) {
      try {
        await this.commands.xgroup('CREATE', stream, this.group, '0', 'MKSTREAM');
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
      }
    }
  }

  /** Re-reads our own pending entries one at a time, oldest first. True when none are left. */
  private async drainPending(): Promise<boolean> {
    while (this.running) {
      const batch = (await this.reader.xreadgroup(
        'GROUP',
        this.group,
        this.options.consumer,
        'COUNT',
        1,
        'STREAMS',
        ...this.streams,
        ...this.streams.map(() => '0'),
      )) as StreamBatch | null;
      const pending = (batch ?? []).flatMap(([stream, entries]) => entries.map((e) => [stream, e] as const));
      if (pending.length === 0) return true;
      for (const [stream, [id, fields]] of pending) {
        const deliveries = await this.deliveries(stream, id);
        if (deliveries > 1) this.stats.redelivered++;
        if (!(await this.handle(stream, id, fields, deliveries))) return false;
      }
    }
    return false;
  }

  /** Reads and handles new entries; false when one failed (and was left pending). */
  private async readNew(): Promise<boolean> {
    const batch = (await this.reader.xreadgroup(
      'GROUP',
      this.group,
      this.options.consumer,
      'COUNT',
      this.batchSize,
      'BLOCK',
      this.blockMs,
      'STREAMS',
      ...this.streams,
      ...this.streams.map(() => '>'),
    )) as StreamBatch | null;
    for (const [stream, entries] of batch ?? []) {
      for (const [id, fields] of entries) {
        // Entries behind a failure stay pending (delivered, unacked) and are re-read in order.
        if (!(await this.handle(stream, id, fields, 1))) return false;
      }
    }
    return true;
  }

  /** Takes over entries idle past claimIdleMs from any consumer of the group. True when any were taken. */
  private async reclaimIdle(): Promise<boolean> {
    let claimed = false;
    for (const stream of this.streams) {
      let cursor = '0-0';
      do {
        // JUSTID: the delivery counter grows when we re-read the entry, once per attempt.
        const [next, ids] = (await this.commands.xautoclaim(
          stream,
          this.group,
          this.options.consumer,
          this.options.claimIdleMs,
          cursor,
          'COUNT',
          100,
          'JUSTID',
        )) as [string, string[], string[]?];
        if (ids.length > 0) claimed = true;
        cursor = next;
      } while (cursor !== '0-0' && this.running);
    }
    return claimed;
  }

  private async deliveries(stream: string, id: string): Promise<number> {
    const info = (await this.commands.xpending(stream, this.group, id, id, 1)) as [string, string, number, number][];
    return info[0]?.[3] ?? 1;
  }

  /** Applies one entry. True when it is done with (acked, possibly dead-lettered); false to leave it pending. */
  private async handle(stream: string, id: string, fields: string[] | null, deliveries: number): Promise<boolean> {
    const raw = field(fields, 'event');
    const admission = admit({
      envelope: fields === null ? null : readEnvelope(raw),
      deliveries,
      maxDeliveries: this.options.maxDeliveries,
      lastError: this.lastErrors.get(id),
    });
    if (admission.action === 'ack') {
      await this.commands.xack(stream, this.group, id);
      return true;
    }
    if (admission.action === 'dead-letter') {
      this.lastErrors.delete(id);
      await this.deadLetter(stream, id, raw, admission.reason, deliveries);
      return true;
    }
    const { event } = admission;
    const pattern = stream.slice(this.options.prefix.length);
    const handler = this.getHandlerByPattern(pattern);
    for (let attempt = 0; ; attempt++) {
      try {
        if (!handler) throw new Error(`no handler for ${pattern}`);
        const result = await handler(event, new RedisStreamsContext([stream, id, deliveries]));
        await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
        break;
      } catch (err) {
        this.stats.failed++;
        const dependencyUnavailable = this.running && (this.options.dependencyUnavailable?.() ?? false);
        if (afterFailure({ running: this.running, dependencyUnavailable }) === 'retry-in-place') {
          // Not this entry's fault: wait for the dependency without spending its deliveries (nor skipping ahead).
          if (attempt === 0)
            this.logger.warn(`entry ${id} of ${stream} waits for an unavailable dependency: ${(err as Error).message}`);
          this.stats.consuming = false;
          await sleep(inPlaceRetryDelayMs(attempt));
          continue;
        }
        this.logger.warn(`entry ${id} of ${stream} failed (delivery ${deliveries}): ${(err as Error).message}`);
        this.rememberError(id, (err as Error).message);
        return false;
      }
    }
    await this.commands.xack(stream, this.group, id);
    this.lastErrors.delete(id);
    this.stats.processed++;
    this.stats.recordLag(Math.max(0, Date.now() - Date.parse(event.occurredAt)));
    return true;
  }

  /** Kept so a dead letter can say why, when the failures happened in this process (bounded: oldest dropped). */
  private rememberError(id: string, message: string): void {
    this.lastErrors.delete(id);
    this.lastErrors.set(id, message);
    if (this.lastErrors.size > 1000) this.lastErrors.delete(this.lastErrors.keys().next().value as string);
  }

  private async deadLetter(stream: string, id: string, raw: string | undefined, error: string, deliveries: number) {
    await this.commands.xadd(
      `${stream}:dlq`,
      'MAXLEN',
      '~',
      DLQ_MAXLEN,
      '*',
      'event',
      raw ?? '',
      'error',
      error,
      'stream',
      stream,
      'entryId',
      id,
      'deliveries',
      String(deliveries),
      'failedAt',
      new Date().toISOString(),
    );
    await this.commands.xack(stream, this.group, id);
    this.stats.deadLettered++;
    this.logger.warn(`entry ${id} of ${stream} dead-lettered: ${error}`);
  }
}
