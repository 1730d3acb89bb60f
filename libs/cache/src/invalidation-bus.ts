import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { L1Cache } from './l1-cache';
import { RedisNames } from './redis-names';

/** What travels on the invalidation channel. */
export interface InvalidationMessage {
  /** Logical keys every instance drops from L1. */
  keys?: string[];
  /** A glob every instance drops from L1 (admin flush). */
  flush?: string;
  origin?: string;
}

/**
 * Carries invalidations to every instance's L1 over Redis pub/sub, on its own
 * connection (a subscribed connection can do nothing else). L1 is trusted only
 * between a confirmed SUBSCRIBE and the next disconnect: while the channel is
 * down messages can be lost, so L1 is cleared and switched off (L1Cache).
 */
export class InvalidationBus {
  private readonly logger = new Logger('InvalidationBus');
  received = 0;
  private firstSubscribed: () => void = () => undefined;

  constructor(
    private readonly subscriber: Redis,
    private readonly names: RedisNames,
    private readonly l1: L1Cache,
    /** Told about every key dropped anywhere, once per message (not for local echoes). */
    private readonly onDropped: (keys: string[]) => void = () => undefined,
  ) {}

  /** Starts listening; resolves once subscribed, or after `readyWithinMs` (L1 then turns on when it is). */
  async start(readyWithinMs = 2000): Promise<void> {
    const subscribed = new Promise<void>((resolve) => {
      this.firstSubscribed = resolve;
      setTimeout(resolve, readyWithinMs).unref();
    });
    this.subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.names.invalidationChannel) return;
      const message = this.apply(text);
      if (message?.keys) this.onDropped(message.keys);
    });
    this.subscriber.on('ready', () => void this.subscribe());
    this.subscriber.on('close', () => {
      if (this.l1.active) this.logger.warn('invalidation channel lost: L1 cleared and off until it is back');
      this.l1.setConnected(false);
    });
    if (this.subscriber.status === 'ready') void this.subscribe();
    await subscribed;
  }

  async stop(): Promise<void> {
    this.l1.setConnected(false);
    this.subscriber.disconnect();
  }

  /** Applies a message locally; used for our own invalidations before Redis echoes them. */
  apply(text: string | InvalidationMessage): InvalidationMessage | undefined {
    this.received++;
    let message: InvalidationMessage;
    try {
      message = typeof text === 'string' ? (JSON.parse(text) as InvalidationMessage) : text;
    } catch {
      // Unreadable: the only safe reaction is to forget everything.
      this.l1.clear();
      return undefined;
    }
    if (Array.isArray(message.keys)) this.l1.delete(message.keys);
    if (typeof message.flush === 'string') this.l1.deleteMatching(message.flush);
    return message;
  }

  private async subscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.names.invalidationChannel);
      this.l1.setConnected(true);
      this.firstSubscribed();
    } catch (err) {
      this.logger.warn(`cannot subscribe to the invalidation channel: ${(err as Error).message}`);
    }
  }
}
