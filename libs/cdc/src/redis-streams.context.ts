import { BaseRpcContext } from '@nestjs/microservices';

type Args = [stream: string, entryId: string, deliveries: number];

/** What a handler can learn about the entry in hand (`@Ctx() ctx: RedisStreamsContext`). */
export class RedisStreamsContext extends BaseRpcContext<Args> {
  getStream(): string {
    return this.args[0];
  }

  getEntryId(): string {
    return this.args[1];
  }

  /** 1 on first delivery; more when the entry is retried or was reclaimed from a dead consumer. */
  getDeliveries(): number {
    return this.args[2];
  }
}
