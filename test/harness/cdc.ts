import { randomBytes } from 'node:crypto';
import { ConfigService } from '@nestjs/config';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Redis } from 'ioredis';
import { CACHE_REDIS, CACHE_SUBSCRIBER, L1Cache, RedisNames } from '@app/cache';
import { CdcHealthService } from '@app/cdc';
import { masterConnections } from '@app/redis';
import { eventually } from '../../tools/eventually';
import { runningBffs } from './test-context';

/** Environment that turns the CDC pipeline on for a test BFF (the harness default too, since CDC is the only invalidation path). */
export const CDC_ON = { CDC_RELAY: 'true', CDC_SUBSCRIBER: 'true', CDC_CLAIM_IDLE_MS: '1000' } as const;

/** A BFF without relay and subscriber (the harness default is the whole pipeline on): these tests say what runs where. */
export const CDC_OFF = { CDC_RELAY: 'false', CDC_SUBSCRIBER: 'false' } as const;

/** A BFF that reads everything from Postgres: the source of truth to compare cached views with. No CDC of its own. */
export const TRUTH_ENV = { CACHE_ENABLED: 'false', ...CDC_OFF } as const;

/**
 * Waits until every committed change has been published and applied: no
 * unpublished outbox rows, and every stream's group has no lag and nothing
 * pending. The guarantees of docs/contract.md §9 are stated "once the lag is 0".
 * Then until every instance has heard of it (heardEverywhere): an invalidation
 * reaches the L1 of other instances in a channel message, a little later.
 */
export async function waitForCdc(
  app: NestFastifyApplication,
  timeoutMs = 10_000,
  /** Streams nobody consumes in this test (e.g. a dual-published v2): they cannot settle. */
  unconsumed: string[] = [],
): Promise<void> {
  const health = app.get(CdcHealthService);
  await eventually(
    async () => {
      // The outbox first, then the streams, never both at once: a row the relay publishes between the two
      // reads is then already in the stream when it is looked at. (In parallel, a stream read just before
      // the XADD and an outbox read just after the row was marked published looked settled.)
      const relay = await health.relay();
      const streams = await health.streams();
      const settled =
        relay.backlog === 0 &&
        Object.entries(streams).every(([name, s]) => unconsumed.includes(name) || (s.lag === 0 && s.pending === 0));
      if (!settled) throw new Error(JSON.stringify({ relay, streams }));
    },
    { timeoutMs, intervalMs: 10, message: 'CDC to settle (no outbox backlog; no lag, nothing pending)' },
  );
  await heardEverywhere(app);
}

/**
 * Drains the invalidation channel up to now for every BFF of this test process that listens to `app`'s (same
 * Redis, same prefix): a sentinel message is published and awaited by each, and pub/sub keeps order, so every
 * invalidation published before it has reached their L1. On a Redis Cluster a message published on one node
 * reaches a subscriber of another over the cluster bus, after PUBLISH answered, and in order only with the
 * other messages of that node: a sentinel is published on every master (where the cache's PUBLISHes go), and
 * each instance waits for all of them. An echo that lands while the next read of its key is filling (safely)
 * keeps that fill out of L1, so tests that expect exact X-Cache values or counters after writing wait for this
 * first. An instance whose channel is down, or whose L1 has switched off, is not waited for: it keeps nothing
 * it could serve stale.
 */
async function heardEverywhere(app: NestFastifyApplication): Promise<void> {
  const channel = app.get(RedisNames).invalidationChannel;
  const subscriberOf = (other: NestFastifyApplication) => other.get<symbol, Redis>(CACHE_SUBSCRIBER);
  const listening = (other: NestFastifyApplication) => {
    const l1 = other.get(L1Cache);
    return subscriberOf(other).status === 'ready' && (!l1.enabled || l1.active);
  };
  const listeners = runningBffs().filter(
    (other) => other.get(RedisNames).invalidationChannel === channel && sameRedis(other, app) && listening(other),
  );
  if (listeners.length === 0) return;
  const round = `settle-${randomBytes(4).toString('hex')}`;
  /** The sentinels (one per master) each instance has not heard yet. */
  const unheard = new Map(listeners.map((other) => [other, new Set<string>()]));
  const handlers = listeners.map((other) => {
    const handler = (ch: string, text: string) => {
      if (ch !== channel || !text.includes(round)) return;
      const { origin } = JSON.parse(text) as { origin: string };
      unheard.get(other)?.delete(origin);
    };
    subscriberOf(other).on('message', handler);
    return () => subscriberOf(other).off('message', handler);
  });
  let publishedAt = 0;
  try {
    await eventually(
      async () => {
        // Republished every 200 ms: one sent while a subscriber is (re)subscribing is lost, like any pub/sub message.
        if (Date.now() - publishedAt >= 200) {
          publishedAt = Date.now();
          const commands = listeners.map((a) => a.get<symbol, Redis>(CACHE_REDIS)).find((r) => r.status === 'ready');
          const masters = commands ? masterConnections(commands) : [];
          const sentinels = masters.map((_, i) => `${round}:${i}`);
          for (const tokens of unheard.values()) for (const sentinel of sentinels) tokens.add(sentinel);
          await Promise.all(
            masters.map((node, i) => node.publish(channel, JSON.stringify({ keys: [], origin: sentinels[i] }))),
          );
        }
        for (const [other, tokens] of unheard) if (tokens.size === 0 || !listening(other)) unheard.delete(other);
        return unheard.size === 0;
      },
      { timeoutMs: 3000, intervalMs: 2, message: `every instance on ${channel} to hear a sentinel` },
    );
  } finally {
    for (const remove of handlers) remove();
  }
}

/** Whether two apps use the same Redis (as configured: a proxy in front of it counts as another). */
function sameRedis(a: NestFastifyApplication, b: NestFastifyApplication): boolean {
  const where = (app: NestFastifyApplication) =>
    ['REDIS_URL', 'REDIS_CLUSTER_NODES'].map((name) => app.get(ConfigService).get(name)).join(' ');
  return where(a) === where(b);
}
