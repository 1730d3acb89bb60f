import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { eventually } from '../../../../tools/eventually';
import { RedisNames } from '../l2/redis-names';
import { InvalidationBus, InvalidationMessage } from './invalidation-bus';
import { L1Cache } from './l1-cache';

/** A subscribed connection as the bus uses it: events, SUBSCRIBE, PING, disconnect. */
class FakeSubscriber extends EventEmitter {
  status = 'ready';
  disconnects = 0;
  async subscribe(): Promise<number> {
    return 1;
  }
  async ping(): Promise<string> {
    return 'PONG';
  }
  disconnect(): void {
    this.disconnects++;
  }
}

/**
 * The bus's echo probe (Redis Cluster): L1 answers only while probes published
 * through another node come back on the subscription. A subscribed node that
 * still answers but no longer receives what others publish (cut off from the
 * cluster bus) must turn L1 off.
 */
describe('InvalidationBus echo probe', () => {
  const names = new RedisNames('');
  let bus: InvalidationBus | undefined;
  afterEach(() => bus?.stop());

  function start(deliver: (message: InvalidationMessage) => boolean) {
    const subscriber = new FakeSubscriber();
    const l1 = new L1Cache(true, 1 << 20, 100);
    const publish = async (message: InvalidationMessage) => {
      // The cluster carries it to the subscribed node, or (cut off) does not.
      if (deliver(message))
        setImmediate(() => subscriber.emit('message', names.invalidationChannel, JSON.stringify(message)));
    };
    bus = new InvalidationBus(subscriber as unknown as Redis, names, l1, { echo: { publish, timeoutMs: 50 } });
    return { subscriber, l1, started: bus.start(1000) };
  }

  it('keeps L1 answering while its probes come back', async () => {
    const { l1, started } = start(() => true);
    await started;
    const subscribedAt = Date.now();
    // Past the 100 ms bound of the SUBSCRIBE's own confirmation: only echoes keep it answering.
    await eventually(() => Date.now() - subscribedAt > 250 && l1.answering, { message: 'an echo-confirmed L1' });
  });

  it('turns L1 off and reconnects when probes stop coming back, though the node still answers PING', async () => {
    let delivering = true;
    const { subscriber, l1, started } = start(() => delivering);
    await started;
    expect(l1.active).toBe(true);
    delivering = false;
    await eventually(() => expect(l1.active).toBe(false), { message: 'L1 to turn off' });
    expect(subscriber.disconnects).toBeGreaterThan(0);
  });

  it("ignores other instances' probes", async () => {
    const { subscriber, l1, started } = start(() => true);
    await started;
    subscriber.emit('message', names.invalidationChannel, JSON.stringify({ probe: 'someone-else:1' }));
    expect(l1.active).toBe(true);
  });
});

/**
 * The bus's own echoes: an instance dropped its invalidation's keys from its L1 before and after the L2 drop,
 * so the echo of its own message (origin = its instance id) does not delete them again; everyone else's does.
 */
describe('InvalidationBus own echoes', () => {
  const names = new RedisNames('');
  let bus: InvalidationBus | undefined;
  afterEach(() => bus?.stop());

  it("deletes another instance's keys from L1, leaves its own echo's, and reports both as dropped", async () => {
    const subscriber = new FakeSubscriber();
    const l1 = new L1Cache(true, 1 << 20, 60_000);
    const dropped: [string[], boolean][] = [];
    bus = new InvalidationBus(subscriber as unknown as Redis, names, l1, {
      onDropped: (keys, own) => dropped.push([keys, own]),
      ownOrigin: 'this-instance',
    });
    await bus.start(1000);
    const entry = { body: Buffer.from('{}'), etag: '"e"', storedAt: Date.now() };
    for (const key of ['catalog:product:a', 'catalog:product:b']) l1.commit(l1.begin(key), entry);
    const send = (message: InvalidationMessage) =>
      subscriber.emit('message', names.invalidationChannel, JSON.stringify(message));

    send({ keys: ['catalog:product:a'], origin: 'this-instance' });
    send({ keys: ['catalog:product:b'], origin: 'another-instance' });

    expect(l1.get('catalog:product:a')).toBeDefined();
    expect(l1.get('catalog:product:b')).toBeUndefined();
    expect(dropped).toEqual([
      [['catalog:product:a'], true],
      [['catalog:product:b'], false],
    ]);
  });
});

/**
 * A SUBSCRIBE that fails on a connection that stays up (it timed out while the connection hung, and the
 * connection came back): nothing closes, so no later 'ready' would subscribe again, and the heartbeat does
 * not probe while L1 is off. The bus must make the connection again instead of leaving L1 off for good.
 */
describe('InvalidationBus failed subscribe', () => {
  const names = new RedisNames('');
  let bus: InvalidationBus | undefined;
  afterEach(() => bus?.stop());

  it('reconnects and subscribes again, and L1 comes back on', async () => {
    const subscriber = new FakeSubscriber();
    let failures = 1;
    subscriber.subscribe = async () => {
      if (failures-- > 0) throw new Error('Command timed out');
      return 1;
    };
    subscriber.disconnect = (reconnect?: boolean) => {
      subscriber.disconnects++;
      if (!reconnect) return;
      // What ioredis does on disconnect(true): close, connect again, 'ready'.
      subscriber.emit('close');
      setImmediate(() => subscriber.emit('ready'));
    };
    const l1 = new L1Cache(true, 1 << 20, 60_000);
    bus = new InvalidationBus(subscriber as unknown as Redis, names, l1);
    await bus.start(50);
    await eventually(() => expect(l1.active).toBe(true), { message: 'L1 to come back on' });
    expect(subscriber.disconnects).toBe(1);
  });
});
