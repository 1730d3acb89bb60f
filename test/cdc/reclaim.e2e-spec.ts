import { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { CdcStats } from '@app/cdc';
import { CDC_ON, waitForCdc } from '../harness/cdc';
import { ChildApp, useChildProcesses } from '../harness/processes';
import { useTestContext } from '../harness/test-context';
import {
  appReader,
  CDC_OFF,
  backlog,
  catalogUrls,
  expectViewsEqual,
  rawRedis,
  SeededCatalog,
  seedCatalog,
  TRUTH_ENV,
  until,
  warm,
} from './support';

const GROUP = 'cache-sync';

/** Pending entries of the group per consumer, summed over the streams. */
async function pendingByConsumer(redis: Redis, streams: string[]): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const stream of streams) {
    const summary = (await redis.xpending(stream, GROUP).catch(() => [0, null, null, null])) as [
      number,
      string | null,
      string | null,
      [string, string][] | null,
    ];
    for (const [consumer, count] of summary[3] ?? []) result[consumer] = (result[consumer] ?? 0) + Number(count);
  }
  return result;
}

const total = (pending: Record<string, number>) => Object.values(pending).reduce((a, b) => a + b, 0);

/**
 * SPEC §6.3, §9.3: an entry delivered to a consumer that dies before XACK is
 * not lost: it stays pending, and once idle past CDC_CLAIM_IDLE_MS a live
 * consumer takes it over (XAUTOCLAIM) and applies it.
 */
describe('CDC reclaim: an entry read by a consumer that died is applied by another', () => {
  const ctx = useTestContext();
  let redis: Redis;
  let reader: NestFastifyApplication;
  let seeded: SeededCatalog;
  let streams: string[];

  beforeAll(async () => {
    redis = rawRedis();
    streams = ['catalog', 'orders'].map((d) => `${ctx().redisPrefix}cdc.${d}.v1`);
    // The group exists before anything is published (as a subscriber that ran before would have left it).
    for (const s of streams) await redis.xgroup('CREATE', s, GROUP, '0', 'MKSTREAM');
  });

  afterAll(() => redis.disconnect());

  it('deterministic: entries XREADGROUPed by "dead-consumer" and never acked are reclaimed and applied', async () => {
    // A relay without a subscriber, whose cache holds the views.
    reader = await ctx().startBff({ CDC_RELAY: 'true', CDC_SUBSCRIBER: 'false' });
    const truth = await ctx().startBff(TRUTH_ENV);
    seeded = await seedCatalog(ctx().sql, 2, 2);
    const urls = catalogUrls(seeded);
    await until('the seed to be published', async () => (await backlog(ctx().sql)) === 0);
    await warm(appReader(reader), urls);

    const [p0, p1] = seeded.products;
    await ctx().sql.query(`UPDATE catalog.products SET name = 'Reclaimed name' WHERE id = $1`, [p0.id]);
    await ctx().sql.query(`UPDATE catalog.products SET category_id = $2 WHERE id = $1`, [
      p1.id,
      seeded.categories[1].id,
    ]);
    await ctx().sql.query(`UPDATE catalog.stock_levels SET quantity = 1 WHERE product_id = $1`, [p0.id]);
    await until('the changes to be published', async () => (await backlog(ctx().sql)) === 0);

    // The consumer that will "die": it reads everything and acknowledges nothing.
    const read = (await redis.xreadgroup(
      'GROUP',
      GROUP,
      'dead-consumer',
      'COUNT',
      1000,
      'STREAMS',
      ...streams,
      '>',
      '>',
    )) as [string, [string, string[]][]][];
    const delivered = read.flatMap(([, entries]) => entries.map(([, fields]) => JSON.parse(fields[1])));
    expect(delivered.map((e) => e.type)).toEqual(
      expect.arrayContaining(['catalog.product.updated', 'catalog.stock.updated']),
    );
    expect(await pendingByConsumer(redis, streams)).toEqual({ 'dead-consumer': delivered.length });
    // Nothing was applied: the reader still serves the old name from its L1.
    const stale = await appReader(reader)(`/catalog/products/${p0.id}`);
    expect(stale).toMatchObject({ cache: 'HIT-L1', body: { name: expect.not.stringContaining('Reclaimed') } });

    // A live subscriber with a short claim idle time.
    const subscriber = await ctx().startBff({ CDC_RELAY: 'false', CDC_SUBSCRIBER: 'true', CDC_CLAIM_IDLE_MS: '300' });
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
  // Declared before the test context, so children die before their database is dropped.
  const procs = useChildProcesses();
  const ctx = useTestContext();
  let redis: Redis;

  beforeAll(() => {
    redis = rawRedis();
  });
  afterAll(() => redis.disconnect());

  it('applies every change after the crash: nothing pending, cached views (L1 included) equal the database', async () => {
    const streams = ['catalog', 'orders'].map((d) => `${ctx().redisPrefix}cdc.${d}.v1`);
    const reader = await ctx().startBff(CDC_OFF); // holds the views; no CDC of its own
    const truth = await ctx().startBff(TRUTH_ENV);
    const seeded = await seedCatalog(ctx().sql, 3, 10);
    const urls = catalogUrls(seeded);

    const child: ChildApp = await procs.start(
      'cache-sync',
      ctx().env({ CDC_RELAY: 'true', CDC_SUBSCRIBER: 'true', CDC_CONSUMER_NAME: 'child-sync' }),
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
        await ctx().sql.query(`UPDATE catalog.products SET price_cents = price_cents + 1, name = $1`, [`Burst ${i}`]);
        await ctx().sql.query(`UPDATE catalog.stock_levels SET quantity = quantity + 1`);
        writes++;
        await sleep(5);
      }
    })();
    const refill = (async () => {
      const read = appReader(reader);
      while (writing) {
        for (const url of urls.slice(0, 8)) await read(url);
        // An L1 hit through inject never leaves the microtask queue: yield, or timers and sockets starve.
        await sleep(1);
      }
    })();

    let atKill: Record<string, number> = {};
    let left: Record<string, number> = {};
    try {
      // SIGKILL the child while it holds delivered, unacknowledged entries.
      await until(
        'the child to hold a batch of unacknowledged entries',
        async () => ((atKill = await pendingByConsumer(redis, streams))['child-sync'] ?? 0) >= 20,
        15_000,
        1,
      ).catch((err: Error) => {
        throw child.error(err.message);
      });
      const exit = await child.kill('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      left = await pendingByConsumer(redis, streams);
      // More writes while no relay and no subscriber runs: they wait in the outbox.
      const writesAtKill = writes;
      await until('writes after the crash', async () => writes >= writesAtKill + 5, 10_000);
    } finally {
      writing = false;
      await Promise.allSettled([writer, refill]);
    }
    expect(atKill['child-sync']).toBeGreaterThanOrEqual(20);
    expect(left['child-sync']).toBeGreaterThan(0);
    expect(await backlog(ctx().sql)).toBeGreaterThan(0);

    // A BFF with the pipeline on takes over the relay and the child's pending entries.
    const subscriber = await ctx().startBff({ ...CDC_ON, CDC_CLAIM_IDLE_MS: '500' });
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
  const ctx = useTestContext();
  let redis: Redis;

  beforeAll(() => {
    redis = rawRedis();
  });
  afterAll(() => redis.disconnect());

  it('applies the entries it had read before it went away, without waiting for a reclaim', async () => {
    const streams = ['catalog', 'orders'].map((d) => `${ctx().redisPrefix}cdc.${d}.v1`);
    for (const s of streams) await redis.xgroup('CREATE', s, GROUP, '0', 'MKSTREAM');
    const reader = await ctx().startBff({ CDC_RELAY: 'true', CDC_SUBSCRIBER: 'false' });
    const truth = await ctx().startBff(TRUTH_ENV);
    const seeded = await seedCatalog(ctx().sql, 1, 2);
    const urls = catalogUrls(seeded);
    await until('the seed to be published', async () => (await backlog(ctx().sql)) === 0);
    await warm(appReader(reader), urls);
    await ctx().sql.query(`UPDATE catalog.products SET name = 'Read before the restart' WHERE id = $1`, [
      seeded.products[0].id,
    ]);
    await until('the change to be published', async () => (await backlog(ctx().sql)) === 0);
    // "restarting-consumer" read everything, then its process went away.
    await redis.xreadgroup('GROUP', GROUP, 'restarting-consumer', 'COUNT', 1000, 'STREAMS', ...streams, '>', '>');
    const held = (await pendingByConsumer(redis, streams))['restarting-consumer'];
    expect(held).toBeGreaterThan(0);

    // Back under the same name, with a claim idle time far beyond the test: only the own-pending drain can apply them.
    const back = await ctx().startBff({
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
