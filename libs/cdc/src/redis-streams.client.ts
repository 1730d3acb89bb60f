import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';
import type { ChainableCommander, Redis } from 'ioredis';
import { createRedisClient, execReplicated, RedisTopology, ReplicaWait, resultsOrThrow } from '@app/redis';

export interface RedisStreamsClientOptions {
  redis: RedisTopology;
  prefix: string;
  /** XADD … MAXLEN ~ maxLen: streams are capped, approximately, at this length. */
  maxLen: number;
  /** On a cluster: the replicas each append waits for before it counts as published (cdcRedis). */
  replicas: ReplicaWait;
}

/**
 * KEYS: the stream.  ARGV: maxLen, event 1..n.
 * `XADD <stream> MAXLEN ~ <maxLen> * event <json>` for each event, in order;
 * answers how many. A script, not a pipeline of XADDs: one command instead of
 * n, which costs the relay (and Redis) a fraction of the CPU per event. Refused
 * as a whole while Redis is out of memory (a write script: OOM, as XADD is).
 */
const XADD_MANY_LUA = `#!lua
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[i])
end
return #ARGV - 1`;

/** Events per XADD_MANY_LUA call. */
const XADD_CHUNK = 1000;

/** The script as a command, on a client and on a pipeline. */
interface XaddMany {
  cdcXaddMany(stream: string, maxLen: number, ...events: string[]): unknown;
}
type PublishingRedis = Redis & XaddMany;

/** An event to append: `pattern` names the stream (`cdc.catalog.v1`, CACHE_KEY_PREFIX added), `event` is its JSON. */
export interface OutgoingEvent {
  pattern: string;
  event: string;
}

/**
 * The publishing side of the Redis Streams transport: `emit(pattern, event)`
 * appends the event to stream `<prefix><pattern>` in the `event` field.
 * Request-response is not offered; CDC is events only.
 */
export class RedisStreamsClient extends ClientProxy {
  private redis: PublishingRedis;

  constructor(private readonly options: RedisStreamsClientOptions) {
    super();
    this.redis = this.createClient();
  }

  private createClient(): PublishingRedis {
    // commandTimeout stays above the replica wait (cdcRedis): a WAIT that times out answers, it is not cut off.
    const redis = createRedisClient(this.options.redis, {
      name: 'cachegate-cdc-publisher',
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2000,
      retryDelayMs: (attempt) => Math.min(attempt * 200, 2000),
    }) as PublishingRedis;
    redis.on('error', () => undefined); // callers see failed publishes and retry
    redis.defineCommand('cdcXaddMany', { numberOfKeys: 1, lua: XADD_MANY_LUA });
    return redis;
  }

  /**
   * Least time an append needs before "no answer" means something: on a cluster, the WAIT behind it may take
   * its whole timeout to answer that too few replicas have the events, and that answer is the one to report.
   */
  get answerWithinMs(): number {
    return this.options.redis.kind === 'cluster' && this.options.replicas.replicas > 0
      ? this.options.replicas.timeoutMs + 500
      : 0;
  }

  /**
   * Drops this client's connections (and on a cluster its slot map) for new ones; appends in flight on the old
   * ones fail. For a publisher that got no answer for a while: whatever the old client was stuck on (a
   * connection that holds bytes, a node that left the cluster) is not carried over.
   */
  renew(): void {
    const old = this.redis;
    this.redis = this.createClient();
    old.disconnect();
  }

  async connect(): Promise<Redis> {
    if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
    return this.redis;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  unwrap<T>(): T {
    return this.redis as T;
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /**
   * Appends events, each stream's in the given order, as `XADD … MAXLEN ~` does: what an outbox relay pass
   * publishes. A stream's events go in script calls of XADD_CHUNK at most, on one pipeline per stream (on a
   * cluster each stream is its own key, and its master may be another), and every pipeline is sent before
   * the first answer is awaited (one round trip, however many). Resolves once Redis accepted all of them,
   * and on a cluster once each stream's master had them on `replicas` replicas (WAIT behind its pipeline:
   * an append the master acknowledged but no replica has is lost if the master fails, and the relay would
   * have marked its rows published). Rejects with the first refusal or replica shortfall (events before it
   * may have been appended: publishing is at-least-once, and the rows are published again).
   */
  async emitBatch(events: readonly OutgoingEvent[]): Promise<void> {
    if (events.length === 0) return;
    const redis = (await this.connect()) as PublishingRedis;
    const streams = new Map<string, string[]>();
    for (const { pattern, event } of events) {
      const stream = this.options.prefix + pattern;
      const list = streams.get(stream);
      if (list) list.push(event);
      else streams.set(stream, [event]);
    }
    await Promise.all(
      [...streams].map(([stream, list]) =>
        this.append(redis, (pipeline) => {
          for (let i = 0; i < list.length; i += XADD_CHUNK) {
            (pipeline as ChainableCommander & XaddMany).cdcXaddMany(
              stream,
              this.options.maxLen,
              ...list.slice(i, i + XADD_CHUNK),
            );
          }
        }),
      ),
    );
  }

  /** Runs one stream's appends; with WAIT behind them on a cluster. Answers their results. */
  private async append(redis: Redis, queue: (pipeline: ChainableCommander) => void): Promise<unknown[]> {
    return resultsOrThrow(await execReplicated(redis, this.options.replicas, queue));
  }

  protected publish(_packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    callback({ err: new Error('RedisStreamsClient carries events only: use emit()'), isDisposed: true });
    return () => undefined;
  }

  protected async dispatchEvent<T = string>(packet: ReadPacket): Promise<T> {
    const stream = this.options.prefix + this.normalizePattern(packet.pattern);
    const event = JSON.stringify(packet.data);
    const [id] = await this.append(await this.connect(), (pipeline) =>
      pipeline.xadd(stream, 'MAXLEN', '~', this.options.maxLen, '*', 'event', event),
    );
    return id as T;
  }
}
