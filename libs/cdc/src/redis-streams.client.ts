import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';
import Redis from 'ioredis';

export interface RedisStreamsClientOptions {
  redisUrl: string;
  prefix: string;
  /** XADD … MAXLEN ~ maxLen: streams are capped, approximately, at this length. */
  maxLen: number;
}

/**
 * The publishing side of the Redis Streams transport: `emit(pattern, event)`
 * appends the event to stream `<prefix><pattern>` in the `event` field.
 * Request-response is not offered; CDC is events only.
 */
export class RedisStreamsClient extends ClientProxy {
  private readonly redis: Redis;

  constructor(private readonly options: RedisStreamsClientOptions) {
    super();
    this.redis = new Redis(options.redisUrl, {
      connectionName: 'cachegate-cdc-publisher',
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    this.redis.on('error', () => undefined); // callers see failed publishes and retry
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
