import { BaseRpcContext } from '@nestjs/microservices';

type Args = [stream: string, entryIds: string[], deliveries: number[]];

/**
 * What a handler can learn about the entries in hand (`@Ctx() ctx: RedisStreamsContext`): one for a
 * plain `@EventPattern` handler, the batch for a `@CdcEventPattern` one (in the order of its events).
 */
export class RedisStreamsContext extends BaseRpcContext<Args> {
  getStream(): string {
    return this.args[0];
  }

  /** The first entry's id (the only one for a plain `@EventPattern` handler). */
  getEntryId(): string {
    return this.args[1][0];
  }

  getEntryIds(): readonly string[] {
    return this.args[1];
  }

  /** 1 on first delivery; more when an entry is retried or was reclaimed from a dead consumer (the most of the batch). */
  getDeliveries(): number {
    return Math.max(...this.args[2]);
  }
}
