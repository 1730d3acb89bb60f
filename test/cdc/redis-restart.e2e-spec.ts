import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Pool } from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { CdcEvent } from '@app/cdc';
import { CdcStats } from '@app/cdc';
import { RedisStreamsClient } from '@app/cdc';
import { CDC_ON, waitForCdc } from '../harness/cdc';
import { eventually } from '../../tools/eventually';
import { call, json } from '../harness/http';
import { RedisServer } from '../../tools/redis-server';
import { useSeededBff } from '../harness/seeded-bff';
import { TcpProxy } from '../../tools/tcp-proxy';
import { appReader, backlog, catalogUrls, expectViewsEqual, rawRedis, readStream, seedCatalog, warm } from './support';

/**
 * docs/contract.md §6.3 (Redis connection loss), §3 (Redis unreachable: writes succeed,
 * the outbox keeps the events), §9.2–9.3 (restarts of Redis lose nothing).
 * Both cases use throwaway redis-servers: one that comes back empty, one that
 * comes back with its data (AOF), which is the case where a lost event would
 * leave a stale entry for good.
 */

async function unpublishedEventIds(sql: Pool): Promise<string[]> {
  return (
    await sql.query<{ event_id: string }>(`SELECT event_id FROM cdc.outbox WHERE published_at IS NULL ORDER BY id`)
  ).rows.map((r) => r.event_id);
}

/** How often the relay of `app` has tried to publish each event (by id), failed tries included. */
function countPublishAttempts(app: NestFastifyApplication): Map<string, number> {
  const attempts = new Map<string, number>();
  const publisher = app.get(RedisStreamsClient);
  const emitBatch = publisher.emitBatch.bind(publisher);
  jest.spyOn(publisher, 'emitBatch').mockImplementation((events) => {
    for (const { event } of events) {
      const { id } = JSON.parse(event) as CdcEvent;
      attempts.set(id, (attempts.get(id) ?? 0) + 1);
    }
    return emitBatch(events);
  });
  return attempts;
}

describe('Redis restarted empty mid-stream', () => {
  let redis: RedisServer;
  const suite = useSeededBff({
    before: async () => {
      redis = await RedisServer.start();
    },
    instances: [CDC_ON],
    env: () => ({ REDIS_URL: redis.url }),
    truth: true,
    seed: ({ ctx }) => seedCatalog(ctx.sql, 2, 3),
    after: () => redis?.close(),
  });

  it('writes while it is down succeed and wait in the outbox; after the restart the relay drains them and every view is current', async () => {
    const { bff: app, truth, seeded, ctx } = suite;
    const urls = catalogUrls(seeded);
    await warm(appReader(app), urls);
    const processed = app.get(CdcStats).processed;

    // Writes flow (API on the BFF, plain SQL) across the whole outage.
    const statuses: number[] = [];
    let writing = true;
    let round = 0;
    const writer = (async () => {
      for (; writing; round++) {
        const p = seeded.products[round % seeded.products.length];
        statuses.push((await call(app, 'PATCH', `/catalog/products/${p.id}`, { priceCents: 1000 + round })).statusCode);
        await ctx.sql.query(`UPDATE catalog.stock_levels SET quantity = $2 WHERE product_id = $1`, [p.id, round]);
        await sleep(20); // load pacing: a round of writes every 20 ms, not a flood
      }
    })();
    let whileDown: string[];
    try {
      await eventually(() => round >= 3, { timeoutMs: 10_000, message: 'writes before the outage' });
      await redis.stop();
      const roundAtStop = round;
      await eventually(() => round >= roundAtStop + 5, { timeoutMs: 15_000, message: 'writes during the outage' });
      whileDown = await unpublishedEventIds(ctx.sql);
      expect(whileDown.length).toBeGreaterThan(0);
      expect((await call(app, 'GET', '/health')).statusCode).toBe(503);
      await redis.start();
      const roundAtStart = round;
      await eventually(() => round >= roundAtStart + 3, { timeoutMs: 15_000, message: 'writes after the restart' });
    } finally {
      writing = false;
      await writer;
    }
    expect(statuses.every((s) => s === 200)).toBe(true);

    await waitForCdc(app, 30_000);
    expect(await backlog(ctx.sql)).toBe(0);
    // Every event that waited in the outbox reached the (new) stream, and was applied.
    const direct = rawRedis(redis.url);
    const published = new Set((await readStream(direct, `${ctx.redisPrefix}cdc.catalog.v1`)).map((e) => e.event.id));
    direct.disconnect();
    expect(whileDown.filter((id) => !published.has(id))).toEqual([]);
    expect(app.get(CdcStats).processed - processed).toBeGreaterThanOrEqual(whileDown.length);
    await expectViewsEqual(appReader(app), appReader(truth), urls);
    const report = json(await call(app, 'GET', '/health/cdc'));
    expect(report.relay.backlog).toBe(0);
    expect(report.streams['cdc.catalog.v1']).toMatchObject({ pending: 0, lag: 0 });
    await eventually(async () => (await call(app, 'GET', '/health')).statusCode === 200, {
      timeoutMs: 15_000,
      message: '/health to answer 200 again',
    });
  }, 60_000);
});

describe('Redis crashed and restarted with its data (AOF): the stale entries it kept are invalidated', () => {
  let redis: RedisServer;
  let proxy: TcpProxy;
  const suite = useSeededBff({
    before: async () => {
      redis = await RedisServer.start({ persistent: true });
      // The BFF reaches Redis through a proxy, so the test can look at the restarted server before the BFF does.
      proxy = await TcpProxy.start({ port: redis.port });
    },
    instances: [CDC_ON],
    env: () => ({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` }),
    truth: true,
    seed: ({ ctx }) => seedCatalog(ctx.sql, 2, 3),
    after: async () => {
      await proxy?.close();
      await redis?.close();
    },
  });

  afterEach(() => jest.restoreAllMocks());

  it('no change made while it was down is lost', async () => {
    const { bff: app, truth, seeded, ctx } = suite;
    const urls = catalogUrls(seeded);
    await warm(appReader(app), urls);
    const [p0, p1] = seeded.products;

    await proxy.cut();
    await redis.stop();
    const attempts = countPublishAttempts(app);
    // Writes while Redis is gone: the API answers 200, the events wait in the outbox.
    const patched = await call(app, 'PATCH', `/catalog/products/${p0.id}`, { name: 'Changed while Redis was down' });
    expect(patched.statusCode).toBe(200);
    await ctx.sql.query(`UPDATE catalog.products SET category_id = $2 WHERE id = $1`, [p1.id, seeded.categories[1].id]);
    await ctx.sql.query(`UPDATE catalog.stock_levels SET quantity = 0 WHERE product_id = $1`, [p0.id]);
    const stock = await call(app, 'PUT', `/catalog/products/${p1.id}/stock`, { quantity: 77 });
    expect(stock.statusCode).toBe(200);
    const waiting = await unpublishedEventIds(ctx.sql);
    expect(waiting.length).toBeGreaterThanOrEqual(4);
    // The relay tries to publish them (and fails: Redis is gone) pass after pass; the rows stay.
    await eventually(() => waiting.every((id) => (attempts.get(id) ?? 0) >= 2), {
      timeoutMs: 10_000,
      message: 'the relay to have tried every waiting row twice',
    });
    expect(await backlog(ctx.sql)).toBe(waiting.length);

    // Restarted with its data: the old representations are still there.
    await redis.start();
    const direct = rawRedis(redis.url);
    try {
      expect(await direct.exists(`${ctx.redisPrefix}catalog:product:${p0.id}`)).toBe(1);
      expect(await direct.exists(`${ctx.redisPrefix}catalog:listing:${seeded.categories[1].slug}`)).toBe(1);
      const before = await direct.xlen(`${ctx.redisPrefix}cdc.catalog.v1`);
      await proxy.restore();

      await waitForCdc(app, 30_000);
      const published = (await readStream(direct, `${ctx.redisPrefix}cdc.catalog.v1`))
        .slice(before)
        .map((e) => e.event.id);
      expect(published).toEqual(expect.arrayContaining(waiting));
    } finally {
      direct.disconnect();
    }
    const after = await expectViewsEqual(appReader(app), appReader(truth), urls);
    expect(after[`/catalog/products/${p0.id}`].body).toMatchObject({ name: 'Changed while Redis was down' });
    expect(after[`/catalog/products/${p1.id}/availability`].body).toMatchObject({ quantity: 77 });
    expect(json(await call(app, 'GET', '/health/cdc')).relay.backlog).toBe(0);
  }, 60_000);
});
