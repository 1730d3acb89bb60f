import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CdcEvent, CONSUMER_GROUP, InvalidEnvelopeError, parseEnvelope } from './cdc-event';
import { CdcStats } from './cdc-stats';
import { CDC_BATCH_HANDLER } from './cdc-event-pattern.decorator';
import { admit, afterFailure, Envelope, inPlaceRetryDelayMs, isolateFailures } from './delivery-policy';
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
  /** Entries read per stream and XREADGROUP, handled as one batch (default 1000). */
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

/** An entry admitted for its handler (delivery-policy.ts `admit`). */
interface Admitted {
  id: string;
  event: CdcEvent;
  deliveries: number;
}

const BACKOFF_MAX_MS = 5000;
const DLQ_MAXLEN = 10_000;
/** Entries read per stream and XREADGROUP: one batch, applied as one invalidation. */
const BATCH_SIZE = 1000;
/** Ids per XACK command. */
const ACK_CHUNK = 5000;

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
 * (docs/contract.md §6.3). Handlers are `@CdcEventPattern('cdc.<domain>.v<N>')` methods,
 * which get a batch of events per call, or plain `@EventPattern` ones, which
 * get one.
 *
 * - Group `cache-sync` is created at `0` with MKSTREAM, so nothing published
 *   before the group existed is missed.
 * - Batches: each XREADGROUP takes up to batchSize (1000) entries per stream.
 *   A stream's batch goes to its handler in one call, which maps every event to
 *   keys and dependencies and applies them merged, as one invalidation of a
 *   few bounded script calls; then the batch is acknowledged with multi-id
 *   XACKs. A bulk change of 100,000 rows is 100 such rounds, not 100,000.
 * - An entry is XACKed only after the invalidation that covers it finished.
 *   Batches are applied one after the other, so the entries of one aggregate
 *   are applied in order (within a batch they are one invalidation).
 * - Poison: an entry that is not a valid envelope (or was delivered more than
 *   maxDeliveries times) is copied to `<stream>:dlq` with the error and acked,
 *   and the rest of its batch is applied. When the handler throws, halves of
 *   the batch are applied instead, down to the entries that fail on their own
 *   (delivery-policy.ts isolateFailures): only those stay pending, and the rest
 *   of the batch is applied and acked.
 * - On start, and after any failed entry, the consumer first re-reads its own
 *   pending entries (a batch at a time, oldest first) before reading new ones:
 *   a failing entry is retried before anything newer, and only its own
 *   delivery counter grows. Pending entries idle longer than claimIdleMs (a
 *   crashed consumer's, or our own failures) are taken over with XAUTOCLAIM.
 * - While the cache is unavailable a failing handler call is retried in place
 *   with back-off (dependencyUnavailable): it spends no delivery.
 * - Redis going away: the loop backs off and retries; a stream lost with a
 *   Redis restart is recreated (NOGROUP → create group again).
 * - close() finishes the batch in hand, then stops.
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
    this.batchSize = options.batchSize ?? BATCH_SIZE;
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
    this.reader.disconnect(); // interrupts a blocking read; a batch being handled is finished first
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

  /** Re-reads our own pending entries a batch at a time, oldest first. True when none are left. */
  private async drainPending(): Promise<boolean> {
    while (this.running) {
      const batch = (await this.reader.xreadgroup(
        'GROUP',
        this.group,
        this.options.consumer,
        'COUNT',
        this.batchSize,
        'STREAMS',
        ...this.streams,
        ...this.streams.map(() => '0'),
      )) as StreamBatch | null;
      const pending = (batch ?? []).filter(([, entries]) => entries.length > 0);
      if (pending.length === 0) return true;
      let done = true;
      for (const [stream, entries] of pending) {
        const deliveries = await this.deliveries(stream, entries);
        this.stats.redelivered += deliveries.filter((d) => d > 1).length;
        if (!(await this.handleBatch(stream, entries, deliveries))) done = false;
      }
      // Failed entries stay pending: they are retried (after a pause) before anything newer is read.
      if (!done) return false;
    }
    return false;
  }

  /** Reads and handles a batch of new entries per stream; false when any failed (and was left pending). */
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
    let done = true;
    for (const [stream, entries] of batch ?? []) {
      if (entries.length === 0) continue;
      const firstDelivery = entries.map(() => 1);
      if (!(await this.handleBatch(stream, entries, firstDelivery))) done = false;
    }
    return done;
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

  /** Delivery counts of a batch of our own pending entries (this delivery included): one XPENDING over its id range. */
  private async deliveries(stream: string, entries: StreamEntry[]): Promise<number[]> {
    const info = (await this.commands.xpending(
      stream,
      this.group,
      entries[0][0],
      entries[entries.length - 1][0],
      entries.length,
      this.options.consumer,
    )) as [string, string, number, number][];
    const counts = new Map(info.map(([id, , , deliveries]) => [id, Number(deliveries)]));
    return entries.map(([id]) => counts.get(id) ?? 1);
  }

  /**
   * Handles a batch of one stream's entries: dead-letters what cannot be applied, applies the rest as
   * one invalidation (apply), then acknowledges everything that is done with, in one XACK per
   * ACK_CHUNK ids. True when nothing is left pending; false when entries failed (they stay pending).
   */
  private async handleBatch(stream: string, entries: StreamEntry[], deliveries: number[]): Promise<boolean> {
    const done: string[] = [];
    const admitted: Admitted[] = [];
    for (const [i, [id, fields]] of entries.entries()) {
      const raw = field(fields, 'event');
      const admission = admit({
        envelope: fields === null ? null : readEnvelope(raw),
        deliveries: deliveries[i],
        maxDeliveries: this.options.maxDeliveries,
        lastError: this.lastErrors.get(id),
      });
      if (admission.action === 'ack') {
        done.push(id);
      } else if (admission.action === 'dead-letter') {
        this.lastErrors.delete(id);
        await this.deadLetter(stream, id, raw, admission.reason, deliveries[i]);
      } else {
        admitted.push({ id, event: admission.event, deliveries: deliveries[i] });
      }
    }
    const failed = await this.apply(stream, admitted);
    const appliedAt = Date.now();
    const applied: Admitted[] = [];
    for (const entry of admitted) {
      const error = failed.get(entry);
      if (error) {
        this.logger.warn(`entry ${entry.id} of ${stream} failed (delivery ${entry.deliveries}): ${error.message}`);
        this.rememberError(entry.id, error.message);
      } else {
        this.lastErrors.delete(entry.id);
        applied.push(entry);
        done.push(entry.id);
      }
    }
    // Only now: an entry is acknowledged after its invalidation finished, never before.
    await this.ack(stream, done);
    this.stats.processed += applied.length;
    for (const { event } of applied) this.stats.recordLag(Math.max(0, appliedAt - Date.parse(event.occurredAt)));
    return failed.size === 0;
  }

  /**
   * Runs the stream's handler on the admitted entries; answers those that failed, each with its error.
   * A `@CdcEventPattern` handler gets the whole batch in one call; when that throws, halves of it are
   * applied instead, down to the entries that fail alone (isolateFailures). A plain `@EventPattern`
   * handler gets one call per entry.
   */
  private async apply(stream: string, entries: Admitted[]): Promise<Map<Admitted, Error>> {
    if (entries.length === 0) return new Map();
    const pattern = stream.slice(this.options.prefix.length);
    const handler = this.getHandlerByPattern(pattern);
    let failed: Map<Admitted, Error>;
    if (!handler) {
      const missing = new Error(`no handler for ${pattern}`);
      failed = new Map(entries.map((e) => [e, missing]));
    } else if (handler.extras?.[CDC_BATCH_HANDLER]) {
      const applyPart = (part: readonly Admitted[]) =>
        this.invoke(
          handler,
          stream,
          part,
          part.map((e) => e.event),
        );
      failed = await isolateFailures(entries, applyPart, () => !this.running);
    } else {
      failed = new Map();
      for (const entry of entries) {
        await this.invoke(handler, stream, [entry], entry.event).catch((err: unknown) =>
          failed.set(entry, err instanceof Error ? err : new Error(String(err))),
        );
      }
    }
    this.stats.failed += failed.size;
    return failed;
  }

  /**
   * Calls a handler until it succeeds, or throws its error when the failure may be the entries' own.
   * While the cache is unavailable the call is retried in place, with back-off: it spends no delivery,
   * and nothing behind it overtakes it.
   */
  private async invoke(
    handler: MessageHandler,
    stream: string,
    entries: readonly Admitted[],
    payload: CdcEvent | CdcEvent[],
  ): Promise<void> {
    const context = new RedisStreamsContext([stream, entries.map((e) => e.id), entries.map((e) => e.deliveries)]);
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await handler(payload, context);
        await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
        return;
      } catch (err) {
        const dependencyUnavailable = this.running && (this.options.dependencyUnavailable?.() ?? false);
        if (afterFailure({ running: this.running, dependencyUnavailable }) !== 'retry-in-place') throw err;
        this.stats.failed++;
        if (attempt === 0) {
          const what =
            entries.length === 1 ? `entry ${entries[0].id}` : `${entries.length} entries from ${entries[0].id}`;
          this.logger.warn(`${what} of ${stream} wait(s) for an unavailable dependency: ${(err as Error).message}`);
        }
        this.stats.consuming = false;
        await sleep(inPlaceRetryDelayMs(attempt));
      }
    }
  }

  /** XACK of many ids: ACK_CHUNK ids per command, all sent at once (one round trip). */
  private async ack(stream: string, ids: string[]): Promise<void> {
    const acks: Promise<number>[] = [];
    for (let i = 0; i < ids.length; i += ACK_CHUNK) {
      acks.push(this.commands.xack(stream, this.group, ...ids.slice(i, i + ACK_CHUNK)));
    }
    await Promise.all(acks);
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
