import Redis from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { CdcStats, CONSUMER_GROUP } from '@app/cdc';
import { CDC_OFF, CDC_ON, waitForCdc } from '../harness/cdc';
import { eventually } from '../../tools/eventually';
import { ChildApp, useChildProcesses } from '../harness/processes';
import { useSeededBff } from '../harness/seeded-bff';
import { TestContext } from '../harness/test-context';
import {
  appReader,
  backlog,
  catalogUrls,
  expectViewsEqual,
  freezeHoldingEntries,
  pendingByConsumer,
  rawRedis,
  readAsConsumer,
  seedCatalog,
  warm,
} from './support';

const GROUP = CONSUMER_GROUP;

/** A BFF that publishes (the only relay) without consuming: what it publishes stays in the streams. */
const RELAY_ONLY = { CDC_RELAY: 'true', CDC_SUBSCRIBER: 'false' } as const;

const streamsOf = (ctx: TestContext) => ['catalog', 'orders'].map((d) => `${ctx.redisPrefix}cdc.${d}.v1`);

/** Until the relay has published every committed change (with no subscriber running, that is as settled as it gets). */
async function published(sql: Pool, what: string): Promise<void> {
  await eventually(async () => (await backlog(sql)) === 0, { timeoutMs: 10_000, message: `${what} to be published` });
}

/** The group exists before anything is published, as a subscriber that ran before would have left it. */
async function createGroups(redis: Redis, streams: string[]): Promise<void> {
  for (const stream of streams) await redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
}

/**
 * docs/contract.md §6.3, §9.3: an entry delivered to a consumer that dies before XACK is
 * not lost: it stays pending, and once idle past CDC_CLAIM_IDLE_MS a live
 * consumer takes it over (XAUTOCLAIM) and applies it.
 */
describe('CDC reclaim: an entry read by a consumer that died is applied by another', () => {
  let redis: Redis;
  const suite = useSeededBff({
    before: async (ctx) => {
      redis = rawRedis();
      await createGroups(redis, streamsOf(ctx));
    },
    // The reader: a relay without a subscriber, whose cache holds the views.
    instances: [RELAY_ONLY],
    truth: true,
    seed: ({ ctx }) => seedCatalog(ctx.sql, 2, 2),
    settle: ({ ctx }) => published(ctx.sql, 'the seed'),
    after: () => redis?.disconnect(),
  });

  it('deterministic: entries XREADGROUPed by "dead-consumer" and never acked are reclaimed and applied', async () => {
    const { bff: reader, truth, seeded, ctx } = suite;
    const streams = streamsOf(ctx);
    const urls = catalogUrls(seeded);
    await warm(appReader(reader), urls);

    const [p0, p1] = seeded.products;
    await ctx.sql.query(`UPDATE catalog.products SET name = 'Reclaimed name' WHERE id = $1`, [p0.id]);
    await ctx.sql.query(`UPDATE catalog.products SET category_id = $2 WHERE id = $1`, [p1.id, seeded.categories[1].id]);
    await ctx.sql.query(`UPDATE catalog.stock_levels SET quantity = 1 WHERE product_id = $1`, [p0.id]);
    await published(ctx.sql, 'the changes');

    // The consumer that will "die": it reads everything and acknowledges nothing.
    const delivered = await readAsConsumer(redis, 'dead-consumer', streams);
    expect(delivered.map((e) => e.type)).toEqual(
      expect.arrayContaining(['catalog.product.updated', 'catalog.stock.updated']),
    );
    expect(await pendingByConsumer(redis, streams)).toEqual({ 'dead-consumer': delivered.length });
    // Nothing was applied: the reader still serves the old name from its L1.
    const stale = await appReader(reader)(`/catalog/products/${p0.id}`);
    expect(stale).toMatchObject({ cache: 'HIT-L1', body: { name: expect.not.stringContaining('Reclaimed') } });

    // A live subscriber with a short claim idle time.
    const subscriber = await ctx.startBff({ CDC_RELAY: 'false', CDC_SUBSCRIBER: 'true', CDC_CLAIM_IDLE_MS: '300' });
    await waitForCdc(subscriber);
    expect(await pendingByConsumer(redis, streams)).toEqual({});
    const stats = subscriber.get(CdcStats);
    expect(stats.redelivered).toBe(delivered.length);
    expect(stats.processed).toBe(delivered.length);
    expect(stats.deadLettered).toBe(0);
    const after = await expectViewsEqual(appReader(reader), appReader(truth), urls);
    expect(after[`/catalog/products/${p0.id}`]).toMatchObject({ cache: 'MISS', body: { name: 'Reclaimed name' } });
    expect(after[`/catalog/products/${p0.id}/availability`].body).toMatchObject({ quantity: 1 });
    // Each reclaimed entry was delivered twice: once to the dead consumer, once to the live one.
    const info = (await redis.xinfo('CONSUMERS', streams[0], GROUP)) as unknown[][];
    const consumers = info.map((c) =>
      Object.fromEntries(c.reduce<[unknown, unknown][]>((acc, v, i, a) => (i % 2 ? acc : [...acc, [v, a[i + 1]]]), [])),
    );
    expect(consumers.find((c) => c.name === 'dead-consumer')).toMatchObject({ pending: 0 });
  });
});

describe('CDC reclaim: a cache-sync process SIGKILLed mid-stream loses nothing', () => {
  // Declared before the BFFs' fixture, so children die before their database is dropped.
  const procs = useChildProcesses();
  let redis: Redis;
  const suite = useSeededBff({
    before: async () => {
      redis = rawRedis();
    },
    instances: [CDC_OFF], // the reader: holds the views; no CDC of its own
    truth: true,
    seed: ({ ctx }) => seedCatalog(ctx.sql, 3, 10),
    settle: false, // no relay runs until the test starts the child
    after: () => redis?.disconnect(),
  });

  it('applies every change after the crash: nothing pending, cached views (L1 included) equal the database', async () => {
    const { bff: reader, truth, seeded, ctx } = suite;
    const streams = streamsOf(ctx);
    const urls = catalogUrls(seeded);

    const child: ChildApp = await procs.start(
      'cache-sync',
      ctx.env({ CDC_RELAY: 'true', CDC_SUBSCRIBER: 'true', CDC_CONSUMER_NAME: 'child-sync' }),
      { name: 'cache-sync child' },
    );
    await waitForCdc(reader, 20_000).catch((err: Error) => {
      throw child.error(err.message);
    });
    await warm(appReader(reader), urls);

    // Writes flow (bursts of one statement touching many rows, so that the child holds a batch)
    // while readers keep refilling the views.
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        await ctx.sql.query(`UPDATE catalog.products SET price_cents = price_cents + 1, name = $1`, [`Burst ${i}`]);
        await ctx.sql.query(`UPDATE catalog.stock_levels SET quantity = quantity + 1`);
        writes++;
        await sleep(5); // load pacing: a burst every few ms, not a flood
      }
    })();
    const refill = (async () => {
      const read = appReader(reader);
      while (writing) {
        for (const url of urls.slice(0, 8)) await read(url);
        // A yield, not a wait: an L1 hit through inject never leaves the microtask queue; timers and sockets starve.
        await sleep(1);
      }
    })();

    let atKill: Record<string, number>;
    let left: Record<string, number>;
    try {
      // SIGKILL the child while it holds delivered, unacknowledged entries (frozen, so it cannot ack them first).
      atKill = await freezeHoldingEntries(child, redis, streams, {
        consumer: 'child-sync',
        atLeast: 20,
        timeoutMs: 15_000,
      });
      const exit = await child.kill('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      left = await pendingByConsumer(redis, streams);
      // More writes while no relay and no subscriber runs: they wait in the outbox.
      const writesAtKill = writes;
      await eventually(() => writes >= writesAtKill + 5, { timeoutMs: 10_000, message: 'writes after the crash' });
    } finally {
      writing = false;
      await Promise.allSettled([writer, refill]);
    }
    expect(atKill['child-sync']).toBeGreaterThanOrEqual(20);
    expect(left['child-sync']).toBeGreaterThan(0);
    expect(await backlog(ctx.sql)).toBeGreaterThan(0);

    // A BFF with the pipeline on takes over the relay and the child's pending entries.
    const subscriber = await ctx.startBff({ ...CDC_ON, CDC_CLAIM_IDLE_MS: '500' });
    await waitForCdc(subscriber, 20_000);
    expect(await pendingByConsumer(redis, streams)).toEqual({});
    expect(subscriber.get(CdcStats).redelivered).toBeGreaterThanOrEqual(left['child-sync']);
    await expectViewsEqual(appReader(reader), appReader(truth), urls);
    await expectViewsEqual(appReader(subscriber), appReader(truth), urls);
    if (process.env.CDC_TEST_VERBOSE) {
      const stats = subscriber.get(CdcStats);
      process.stderr.write(
        `reclaim after SIGKILL: pending at kill ${atKill['child-sync']}, left by the dead child ${left['child-sync']}, ` +
          `redelivered ${stats.redelivered}, processed ${stats.processed}, lag ${JSON.stringify(stats.invalidationLag.summary())}\n`,
      );
    }
  }, 60_000);
});

describe('CDC restart: a consumer that comes back under its name drains its own pending entries first', () => {
  let redis: Redis;
  const suite = useSeededBff({
    before: async (ctx) => {
      redis = rawRedis();
      await createGroups(redis, streamsOf(ctx));
    },
    instances: [RELAY_ONLY], // the reader
    truth: true,
    seed: ({ ctx }) => seedCatalog(ctx.sql, 1, 2),
    settle: ({ ctx }) => published(ctx.sql, 'the seed'),
    after: () => redis?.disconnect(),
  });

  it('applies the entries it had read before it went away, without waiting for a reclaim', async () => {
    const { bff: reader, truth, seeded, ctx } = suite;
    const streams = streamsOf(ctx);
    const urls = catalogUrls(seeded);
    await warm(appReader(reader), urls);
    await ctx.sql.query(`UPDATE catalog.products SET name = 'Read before the restart' WHERE id = $1`, [
      seeded.products[0].id,
    ]);
    await published(ctx.sql, 'the change');
    // "restarting-consumer" read everything, then its process went away.
    await readAsConsumer(redis, 'restarting-consumer', streams);
    const held = (await pendingByConsumer(redis, streams))['restarting-consumer'];
    expect(held).toBeGreaterThan(0);

    // Back under the same name, with a claim idle time far beyond the test: only the own-pending drain can apply them.
    const back = await ctx.startBff({
      CDC_RELAY: 'false',
      CDC_SUBSCRIBER: 'true',
      CDC_CONSUMER_NAME: 'restarting-consumer',
      CDC_CLAIM_IDLE_MS: '600000',
    });
    await waitForCdc(back);
    expect(await pendingByConsumer(redis, streams)).toEqual({});
    expect(back.get(CdcStats).redelivered).toBe(held);
    const after = await expectViewsEqual(appReader(reader), appReader(truth), urls);
    expect(after[`/catalog/products/${seeded.products[0].id}`].body).toMatchObject({ name: 'Read before the restart' });
  });
});
