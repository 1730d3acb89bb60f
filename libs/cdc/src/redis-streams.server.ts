import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import type { Redis } from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientOptions, createRedisClient, RedisTopology, ReplicaWait } from '@app/redis';
import { CdcEvent, CONSUMER_GROUP } from './cdc-event';
import { CdcStats } from './cdc-stats';
import { CDC_BATCH_HANDLER } from './cdc-event-pattern.decorator';
import { afterFailure, inPlaceRetryDelayMs, isolateFailures } from './delivery-policy';
import { RedisStreamsContext } from './redis-streams.context';
import { Admitted, StreamConsumer } from './stream-consumer';

export interface RedisStreamsServerOptions {
  redis: RedisTopology;
  /** CACHE_KEY_PREFIX: stream `<prefix>cdc.catalog.v1` serves pattern `cdc.catalog.v1`. */
  prefix: string;
  consumer: string;
  group?: string;
  /** Pending entries idle longer than this are reclaimed from their (presumably dead) consumer. */
  claimIdleMs: number;
  /** An entry delivered more often than this goes to the dead-letter stream. */
  maxDeliveries: number;
  /** On a cluster: the replicas a dead letter must reach before its entry is acknowledged (cdcRedis). */
  replicas: ReplicaWait;
  /** Entries read per stream and XREADGROUP, handled as one batch (default 1000). */
  batchSize?: number;
  blockMs?: number;
  /**
   * Whether what the handlers need is unavailable right now (the cache's Redis down, its circuit breaker
   * open). A handler that fails meanwhile has not failed on its entry: the entry is retried in place with
   * back-off until it applies. Re-reading it would count deliveries and dead-letter a valid invalidation.
   */
  dependencyUnavailable?: (err: unknown) => boolean;
  /**
   * Events of `stream` (prefix included) were lost before they were applied: trimmed by MAXLEN unread, or
   * pending and trimmed. Must make every view they could have invalidated go (drop the stream's domain);
   * the consumer goes on only once it resolved. Without it, a loss is only logged.
   */
  eventsLost?: (stream: string) => Promise<void>;
}

/** Entries read per stream and XREADGROUP: one batch, applied as one invalidation. */
const BATCH_SIZE = 1000;
/**
 * Consumer loops per stream in each process, each a consumer of the group in its own right (`<name>`,
 * `<name>#2`): while one waits for its invalidation's round trips, the other applies the next batch. A bulk
 * drain's tail, past the relay, waited on round trips with Redis half idle and each BFF at a third of a core;
 * with two loops a 100,000-row drain took 4.5 % less time (docs/BENCHMARKS.md, "Bulk").
 */
const LOOPS_PER_STREAM = 2;
/**
 * How long a command on the shared connection (acks, claims, the trim check, dead letters with their WAIT)
 * may go unanswered before the connection counts as hung; each answers in milliseconds normally.
 */
const COMMANDS_ANSWER_WITHIN_MS = 5000;
/** A blocking read answers by its BLOCK time; this much later, its connection counts as hung. */
const READ_ANSWER_MARGIN_MS = 2000;

/**
 * A @nestjs/microservices transport over Redis Streams consumer groups
 * (docs/contract.md §6.3). Handlers are `@CdcEventPattern('cdc.<domain>.v<N>')` methods,
 * which get a batch of events per call, or plain `@EventPattern` ones, which
 * get one.
 *
 * - Group `cache-sync` is created at `0` with MKSTREAM, so nothing published
 *   before the group existed is missed.
 * - LOOPS_PER_STREAM consumer loops per stream (stream-consumer.ts), each a
 *   consumer of the group with its own name and blocking reader: on a cluster
 *   every stream is its own key, and one XREADGROUP over several is refused
 *   (CROSSSLOT); a single Redis runs the same loops. Streams are consumed side
 *   by side: a bulk change on one does not delay another's.
 * - Batches: each XREADGROUP takes up to batchSize (1000) entries of its stream.
 *   A stream's batch goes to its handler in one call, which maps every event to
 *   keys and dependencies and applies them merged, as one invalidation of a
 *   few bounded script calls; then the batch is acknowledged with multi-id
 *   XACKs. A bulk change of 100,000 rows is 100 such rounds, not 100,000.
 * - An entry is XACKed only after the invalidation that covers it finished.
 *   A loop applies its batches one after the other (within a batch they are one
 *   invalidation); the loops of a stream, like the processes, apply theirs side
 *   by side.
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
 * - Redis going away (or a cluster failover): the loop backs off and retries;
 *   a stream lost with a Redis restart is recreated (NOGROUP → create group
 *   again). Dead letters are written before their entry is acked (and on a
 *   cluster WAITed for), so nothing is lost in between.
 * - close() finishes the batch in hand, then stops.
 *
 * Across consumers, entries of one aggregate may be applied by different
 * processes; that is safe because an invalidation only deletes the keys its own
 * event names, and deletions commute.
 */
export class RedisStreamsServer extends Server implements CustomTransportStrategy {
  protected override readonly logger = new Logger('RedisStreamsServer');
  /** Acks, claims, dead letters of every stream. */
  private readonly commands: Redis;
  private consumers: StreamConsumer[] = [];
  private running = false;

  constructor(
    private readonly options: RedisStreamsServerOptions,
    readonly stats: CdcStats = new CdcStats(),
  ) {
    super();
    this.commands = this.connection(`cachegate-cdc:${options.consumer}`, COMMANDS_ANSWER_WITHIN_MS);
  }

  /** Stream names this server consumes (prefix included). */
  get streamNames(): readonly string[] {
    return this.consumers.map((c) => c.stream);
  }

  listen(callback: (err?: unknown) => void): void {
    this.running = true;
    const { prefix, consumer, group = CONSUMER_GROUP, blockMs = 1000 } = this.options;
    const loops = Array.from({ length: LOOPS_PER_STREAM }, (_, i) => (i === 0 ? consumer : `${consumer}#${i + 1}`));
    this.consumers = [...this.messageHandlers.keys()].flatMap((pattern) =>
      loops.map(
        (name) =>
          new StreamConsumer(
            prefix + pattern,
            this.connection(`cachegate-cdc-reader:${name}:${pattern}`, blockMs + READ_ANSWER_MARGIN_MS),
            this.commands,
            {
              group,
              consumer: name,
              batchSize: this.options.batchSize ?? BATCH_SIZE,
              blockMs,
              claimIdleMs: this.options.claimIdleMs,
              maxDeliveries: this.options.maxDeliveries,
              replicas: this.options.replicas,
              eventsLost: this.options.eventsLost,
            },
            this.stats,
            (from, entries) => this.apply(from, entries),
            () => this.reportConsuming(),
          ),
      ),
    );
    for (const c of this.consumers) c.start();
    callback();
  }

  async close(): Promise<void> {
    this.running = false;
    await Promise.all(this.consumers.map((c) => c.stop()));
    this.reportConsuming();
    this.commands.disconnect();
  }

  on(): never {
    throw new Error('RedisStreamsServer does not emit events');
  }

  unwrap<T>(): T {
    return this.commands as T;
  }

  /**
   * A connection whose commands get no answer within `answerWithinMs` time out, and the consumer connects
   * again (reconnectIfHung): a connection that hangs for good would otherwise stop consumption for good.
   */
  private connection(name: string, answerWithinMs: number): Redis {
    const options: ClientOptions = {
      name,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: answerWithinMs,
      retryDelayMs: (attempt) => Math.min(attempt * 200, 2000),
    };
    const client = createRedisClient(this.options.redis, options);
    client.on('error', () => undefined); // retried by the consumer loops
    return client;
  }

  /** /health's "consuming": every stream has a loop that is. */
  private reportConsuming(): void {
    // A stream is consumed while any of its loops is: one backing off after an error leaves the other reading
    // new entries, and its own pending ones are reclaimed (XAUTOCLAIM) once idle past claimIdleMs.
    const streams = new Set(this.consumers.map((c) => c.stream));
    const consumed = new Set(this.consumers.filter((c) => c.consuming).map((c) => c.stream));
    this.stats.consuming = this.running && consumed.size === streams.size;
  }

  /**
   * Runs the stream's handler on its consumer's admitted entries; answers those that failed, each with its error.
   * A `@CdcEventPattern` handler gets the whole batch in one call; when that throws, halves of it are
   * applied instead, down to the entries that fail alone (isolateFailures). A plain `@EventPattern`
   * handler gets one call per entry.
   */
  private async apply(consumer: StreamConsumer, entries: Admitted[]): Promise<Map<Admitted, Error>> {
    const stream = consumer.stream;
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
          consumer,
          part,
          part.map((e) => e.event),
        );
      failed = await isolateFailures(entries, applyPart, () => !this.running);
    } else {
      failed = new Map();
      for (const entry of entries) {
        await this.invoke(handler, consumer, [entry], entry.event).catch((err: unknown) =>
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
    consumer: StreamConsumer,
    entries: readonly Admitted[],
    payload: CdcEvent | CdcEvent[],
  ): Promise<void> {
    const stream = consumer.stream;
    const context = new RedisStreamsContext([stream, entries.map((e) => e.id), entries.map((e) => e.deliveries)]);
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await handler(payload, context);
        await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
        return;
      } catch (err) {
        const dependencyUnavailable = this.running && (this.options.dependencyUnavailable?.(err) ?? false);
        if (afterFailure({ running: this.running, dependencyUnavailable }) !== 'retry-in-place') throw err;
        this.stats.failed++;
        if (attempt === 0) {
          const what =
            entries.length === 1 ? `entry ${entries[0].id}` : `${entries.length} entries from ${entries[0].id}`;
          this.logger.warn(`${what} of ${stream} wait(s) for an unavailable dependency: ${(err as Error).message}`);
        }
        consumer.consuming = false;
        await sleep(inPlaceRetryDelayMs(attempt));
      }
    }
  }
}
