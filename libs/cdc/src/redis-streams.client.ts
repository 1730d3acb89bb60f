import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';
import Redis from 'ioredis';

export interface RedisStreamsClientOptions {
  redisUrl: string;
  prefix: string;
  /** XADD … MAXLEN ~ maxLen: streams are capped, approximately, at this length. */
  maxLen: number;
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

interface PublishingRedis extends Redis {
  cdcXaddMany(stream: string, maxLen: number, ...events: string[]): Promise<number>;
}

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
  private readonly redis: PublishingRedis;

  constructor(private readonly options: RedisStreamsClientOptions) {
    super();
    this.redis = new Redis(options.redisUrl, {
      connectionName: 'cachegate-cdc-publisher',
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    }) as PublishingRedis;
    this.redis.on('error', () => undefined); // callers see failed publishes and retry
    this.redis.defineCommand('cdcXaddMany', { numberOfKeys: 1, lua: XADD_MANY_LUA });
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
   * Appends events in the given order, as `XADD … MAXLEN ~` does: what an outbox relay pass publishes.
   * Consecutive events of one stream go in one script call (XADD_CHUNK at most), and every call is sent
   * before the first answer is awaited (one round trip, however many). Resolves once Redis accepted all
   * of them; rejects with the first refusal (events before it may have been appended: publishing is
   * at-least-once).
   */
  async emitBatch(events: readonly OutgoingEvent[]): Promise<void> {
    if (events.length === 0) return;
    const redis = (await this.connect()) as PublishingRedis;
    const calls: Promise<number>[] = [];
    for (let from = 0; from < events.length;) {
      const pattern = events[from].pattern;
      let to = from + 1;
      while (to < events.length && to - from < XADD_CHUNK && events[to].pattern === pattern) to++;
      const chunk = events.slice(from, to).map((e) => e.event);
      calls.push(redis.cdcXaddMany(this.options.prefix + pattern, this.options.maxLen, ...chunk));
      from = to;
    }
    await Promise.all(calls);
  }

  protected publish(_packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    callback({ err: new Error('RedisStreamsClient carries events only: use emit()'), isDisposed: true });
    return () => undefined;
  }

  protected async dispatchEvent<T = string>(packet: ReadPacket): Promise<T> {
    const stream = this.options.prefix + this.normalizePattern(packet.pattern);
    return (await this.redis.xadd(
      stream,
      'MAXLEN',
      '~',
      this.options.maxLen,
      '*',
      'event',
      JSON.stringify(packet.data),
    )) as T;
  }
}
