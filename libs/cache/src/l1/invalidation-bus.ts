import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { L1Cache } from './l1-cache';
import { RedisNames } from '../l2/redis-names';

/** What travels on the invalidation channel. */
export interface InvalidationMessage {
  /** Logical keys every instance drops from L1. */
  keys?: string[];
  /** A glob every instance drops from L1 (admin flush). */
  flush?: string;
  /** A channel probe (`echo` mode): only its sender acts on it. */
  probe?: string;
  origin?: string;
}

/** Publishes a message on the invalidation channel through the command connection (the echo probe's way out). */
export type Publish = (message: InvalidationMessage) => Promise<void>;

/** What travels on the barrier channel (InvalidationBus.barrier). */
interface BarrierMessage {
  /** A barrier: every other instance answers `ack` with its id once it has taken it off its subscription. */
  barrier?: string;
  ack?: string;
}

/** Publishes text on a channel through the command connection; answers how many subscribers received it. */
export type PublishText = (channel: string, text: string) => Promise<number>;

export interface InvalidationBusOptions {
  /**
   * Told about every key dropped anywhere (this instance's own invalidations too, as Redis echoes them;
   * `own`: the message is one of those).
   */
  onDropped?: (keys: string[], own: boolean) => void;
  /** Echo mode (Redis Cluster): how probes are published; without it, probes are PINGs. */
  echo?: { publish: Publish; timeoutMs: number };
  /** Publishes barriers and acknowledgements (single Redis); without it, barrier() waits for an echo only. */
  publishText?: PublishText;
  /**
   * The `origin` this instance's invalidations carry (TwoTierCache's instance id). Their keys left L1 before
   * and after the L2 drop, on this instance, before the echo: the echo's keys are not deleted from L1 again
   * (a bulk change echoes 100,000s of them).
   */
  ownOrigin?: string;
}

/** Probes per staleness bound: a late PONG or two still leaves L1 answering. */
const PROBES_PER_BOUND = 4;

/**
 * Carries invalidations to every instance's L1 over Redis pub/sub, on its own
 * connection (a subscribed connection can do nothing else). L1 is trusted only
 * between a confirmed SUBSCRIBE and the next disconnect: while the channel is
 * down messages can be lost, so L1 is cleared and switched off (L1Cache).
 *
 * A hung Redis or connection (stopped, not gone) closes nothing, and
 * meanwhile no invalidation gets through while writes go on in Postgres; so the
 * connection is probed with PINGs several times per L1_MAX_STALENESS_MS. Each
 * answer confirms the channel up to the instant its PING was sent (L1Cache
 * answers only while that is recent), and a PING unanswered within the
 * client's command timeout counts as a lost channel: L1 is cleared and the
 * connection is made again.
 *
 * On a Redis Cluster (`echo`), the subscribed node answering PING does not
 * prove messages reach it: a node cut off from the rest of the cluster still
 * answers, while what others publish no longer arrives. There the probe is a
 * message of our own, published through the command connection (any node) and
 * confirmed only when it arrives on the subscription, within the same timeout.
 */
export class InvalidationBus {
  private readonly logger = new Logger('InvalidationBus');
  private firstSubscribed: () => void = () => undefined;
  private heartbeat?: NodeJS.Timeout;
  private probing = false;

  constructor(
    private readonly subscriber: Redis,
    private readonly names: RedisNames,
    private readonly l1: L1Cache,
    private readonly options: InvalidationBusOptions = {},
  ) {}

  /** Barriers this instance published and still waits on: acknowledgements expected (once PUBLISH answered) and received. */
  private readonly barriers = new Map<string, { expected?: number; acks: number; done: () => void }>();
  private barrierCount = 0;
  /** Barriers every other instance acknowledged, and those given up at the staleness bound (one hung or gone). */
  readonly barrierStats = { acknowledged: 0, timedOut: 0 };

  /** Echo probes sent and not yet seen on the channel, by id. */
  private readonly echoes = new Map<string, () => void>();
  /** Tells this instance's probes from every other instance's on the shared channel. */
  private readonly nonce = randomBytes(6).toString('hex');
  private probes = 0;

  /** Starts listening; resolves once subscribed, or after `readyWithinMs` (L1 then turns on when it is). */
  async start(readyWithinMs = 2000): Promise<void> {
    const subscribed = new Promise<void>((resolve) => {
      this.firstSubscribed = resolve;
      setTimeout(resolve, readyWithinMs).unref();
    });
    this.subscriber.on('message', (channel: string, text: string) => {
      if (channel === this.names.barrierChannel) return this.onBarrierMessage(text);
      if (channel !== this.names.invalidationChannel) return;
      const message = this.apply(text);
      if (message?.keys) this.options.onDropped?.(message.keys, this.isOwn(message));
    });
    // Failures show as L1 off (and in /health), not as unhandled 'error' events.
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('ready', () => void this.subscribe());
    this.subscriber.on('close', () => {
      if (this.l1.active) this.logger.warn('invalidation channel lost: L1 cleared and off until it is back');
      this.l1.setConnected(false);
    });
    if (this.subscriber.status === 'ready') void this.subscribe();
    const every = Math.max(25, Math.floor(this.l1.maxStalenessMs / PROBES_PER_BOUND));
    this.heartbeat = setInterval(() => void this.probe(), every).unref();
    await subscribed;
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.l1.setConnected(false);
    this.subscriber.disconnect();
  }

  /**
   * Resolves once every other instance has applied every invalidation published before the call (what an
   * API write waits for before it answers, docs/contract.md §6.5). A barrier message goes out on the
   * barrier channel, which only cachegate instances subscribe to, so PUBLISH answers how many of them
   * there are; each one acknowledges it as it takes it off its subscription, which carries both channels
   * in the order Redis ran the PUBLISHes, so behind every invalidation sent before. An instance that does
   * not answer within L1_MAX_STALENESS_MS has not confirmed its channel since, so its L1 no longer
   * answers: the wait ends there (counted in `barrierStats.timedOut`). On a Redis Cluster, where PUBLISH counts
   * only one node's subscribers, it waits for this instance's own echo instead. Never rejects, and does
   * not wait while L1 is off here (its channel is down).
   */
  async barrier(): Promise<void> {
    if (!this.l1.active) return;
    if (!this.options.publishText) {
      await (this.options.echo ? this.echoed(this.options.echo) : this.subscriber.ping()).catch(() => undefined);
      return;
    }
    const id = `${this.nonce}:${++this.barrierCount}`;
    let timer: NodeJS.Timeout | undefined;
    const acknowledged = new Promise<void>((resolve) => {
      // Registered before the PUBLISH: acknowledgements may arrive before its answer.
      this.barriers.set(id, {
        acks: 0,
        done: () => {
          this.barrierStats.acknowledged++;
          resolve();
        },
      });
      timer = setTimeout(() => {
        this.barrierStats.timedOut++;
        resolve();
      }, this.l1.maxStalenessMs);
    });
    try {
      const received = await this.options.publishText(this.names.barrierChannel, JSON.stringify({ barrier: id }));
      const pending = this.barriers.get(id)!;
      pending.expected = received - 1; // every subscriber of the barrier channel but this instance
      if (pending.acks >= pending.expected) pending.done();
      await acknowledged;
    } catch {
      // Redis failed: the heartbeat finds a lost channel and turns L1 off.
    } finally {
      clearTimeout(timer);
      this.barriers.delete(id);
    }
  }

  /** A message of the barrier channel: acknowledge another instance's barrier, or count one of ours. */
  private onBarrierMessage(text: string): void {
    let message: BarrierMessage;
    try {
      message = JSON.parse(text) as BarrierMessage;
    } catch {
      return;
    }
    if (typeof message.barrier === 'string' && !this.barriers.has(message.barrier)) {
      void this.options
        .publishText?.(this.names.barrierChannel, JSON.stringify({ ack: message.barrier }))
        .catch(() => undefined);
    }
    if (typeof message.ack === 'string') {
      const pending = this.barriers.get(message.ack);
      if (!pending) return;
      pending.acks++;
      if (pending.expected !== undefined && pending.acks >= pending.expected) pending.done();
    }
  }

  private isOwn(message: InvalidationMessage): boolean {
    return this.options.ownOrigin !== undefined && message.origin === this.options.ownOrigin;
  }

  /** Applies a message from the channel to this instance's L1. */
  private apply(text: string): InvalidationMessage | undefined {
    let message: InvalidationMessage;
    try {
      message = JSON.parse(text) as InvalidationMessage;
    } catch {
      // Unreadable: the only safe reaction is to forget everything.
      this.l1.clear();
      return undefined;
    }
    if (typeof message.probe === 'string') this.echoes.get(message.probe)?.();
    if (Array.isArray(message.keys) && !this.isOwn(message)) this.l1.delete(message.keys);
    if (typeof message.flush === 'string') this.l1.deleteMatching(message.flush);
    return message;
  }

  private async probe(): Promise<void> {
    if (this.probing || !this.l1.active) return;
    this.probing = true;
    try {
      const sent = Date.now();
      await (this.options.echo ? this.echoed(this.options.echo) : this.subscriber.ping());
      this.l1.confirm(sent);
    } catch (err) {
      if (this.l1.active) {
        this.logger.warn(
          `invalidation channel unresponsive (${(err as Error).message}): L1 cleared and off, reconnecting`,
        );
      }
      // Turned off here: closing a connection to a stopped server may not complete until it runs again.
      this.l1.setConnected(false);
      this.subscriber.disconnect(true); // 'ready' after the reconnect subscribes again and turns L1 back on
    } finally {
      this.probing = false;
    }
  }

  /** Publishes a probe and resolves when it comes back on the subscription; rejects after the timeout. */
  private async echoed(echo: { publish: Publish; timeoutMs: number }): Promise<void> {
    const id = `${this.nonce}:${++this.probes}`;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.echoes.set(id, resolve);
        timer = setTimeout(() => reject(new Error(`probe not back within ${echo.timeoutMs} ms`)), echo.timeoutMs);
        echo.publish({ probe: id }).catch(reject);
      });
    } finally {
      clearTimeout(timer);
      this.echoes.delete(id);
    }
  }

  private async subscribe(): Promise<void> {
    try {
      const sent = Date.now();
      await this.subscriber.subscribe(
        this.names.invalidationChannel,
        ...(this.options.publishText ? [this.names.barrierChannel] : []),
      );
      this.l1.setConnected(true);
      this.l1.confirm(sent);
      this.firstSubscribed();
    } catch (err) {
      this.logger.warn(`cannot subscribe to the invalidation channel: ${(err as Error).message}; reconnecting`);
      // A SUBSCRIBE that timed out on a connection that hung and came back leaves it up: no 'close', no new
      // 'ready', and the heartbeat does not probe while L1 is off. Connecting again gets a fresh 'ready'.
      if (this.subscriber.status === 'ready') this.subscriber.disconnect(true);
    }
  }
}
