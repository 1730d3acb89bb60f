import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { CdcStats } from '@app/cdc';
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
  readStream,
  seedCatalog,
  SeededCatalog,
  uniq,
  warm,
} from './support';

interface BulkCatalog extends SeededCatalog {
  /** `BULK-<TAG>-`: the sku prefix of every seeded product. */
  skuPrefix: string;
}

/**
 * A catalog seeded the way a bulk import writes it: one INSERT … SELECT per table (so the seed itself is a
 * bulk change for the pipeline). Product n has price 100 + n, so statements can pick subsets by price.
 */
async function seedBulkCatalog(sql: Pool, categories: number, products: number): Promise<BulkCatalog> {
  const tag = uniq();
  const skuPrefix = `BULK-${tag.toUpperCase()}-`;
  const { rows: cats } = await sql.query<{ id: string; slug: string }>(
    `INSERT INTO catalog.categories (slug, name)
     SELECT 'bulk-' || $1 || '-' || g, 'Bulk ' || $1 || ' ' || g FROM generate_series(1, $2::int) g
     RETURNING id, slug`,
    [tag, categories],
  );
  const { rows } = await sql.query<{ id: string; category_id: string }>(
    `INSERT INTO catalog.products (sku, name, price_cents, currency, category_id)
     SELECT $1 || g, 'Bulk product ' || lpad(g::text, 5, '0'), 100 + g, 'EUR', ($2::uuid[])[1 + g % $3::int]
       FROM generate_series(1, $4::int) g
     RETURNING id, category_id`,
    [skuPrefix, cats.map((c) => c.id), categories, products],
  );
  await sql.query(
    `INSERT INTO catalog.stock_levels (product_id, quantity) SELECT id, 10 FROM catalog.products WHERE sku LIKE $1 || '%'`,
    [skuPrefix],
  );
  return { categories: cats, products: rows.map((r) => ({ id: r.id, categoryId: r.category_id })), skuPrefix };
}

/** The categories list, every listing, and `sample` products (with their availability): what a bulk change touches. */
function bulkUrls(seeded: SeededCatalog, sample: number): string[] {
  const step = Math.max(1, Math.floor(seeded.products.length / sample));
  const products = seeded.products.filter((_, i) => i % step === 0).slice(0, sample);
  return [
    '/catalog/categories',
    ...seeded.categories.map((c) => `/catalog/categories/${c.slug}/products`),
    ...products.flatMap((p) => [`/catalog/products/${p.id}`, `/catalog/products/${p.id}/availability`]),
  ];
}

/** The two CDC streams of a test's prefix. */
const streamsOf = (ctx: TestContext) => ['catalog', 'orders'].map((d) => `${ctx.redisPrefix}cdc.${d}.v1`);

/** Messages on the L1 invalidation channel (one per invalidation script call): their keys, and when each key was first seen. */
async function watchInvalidations(
  ctx: TestContext,
): Promise<{ messages: string[][]; firstSeen: Map<string, number>; close: () => void }> {
  const redis = rawRedis();
  const messages: string[][] = [];
  const firstSeen = new Map<string, number>();
  await redis.subscribe(`${ctx.redisPrefix}cache:invalidations`);
  redis.on('message', (_channel: string, text: string) => {
    const keys = (JSON.parse(text) as { keys?: string[] }).keys ?? [];
    messages.push(keys);
    for (const key of keys) if (!firstSeen.has(key)) firstSeen.set(key, Date.now());
  });
  return { messages, firstSeen, close: () => redis.disconnect() };
}

/**
 * docs/contract.md §6.3 (bulk changes are normal), §9.1: one statement that changes
 * thousands of rows is consumed in batches, each applied as one merged
 * invalidation; every affected view goes from L2 and from every instance's L1.
 */
describe('CDC bulk: one statement changing thousands of rows', () => {
  const ROWS = 3000;
  const suite = useSeededBff({
    instances: [CDC_ON, CDC_ON], // two consumers of the group, each a relay candidate
    truth: true,
    seed: ({ ctx }) => seedBulkCatalog(ctx.sql, 6, ROWS),
    settle: ({ bff }) => waitForCdc(bff, 30_000),
    timeoutMs: 60_000,
  });

  it('invalidates every affected view on both instances, in batches: a few script calls, not one per row', async () => {
    const { apps, truth, seeded, ctx } = suite;
    const urls = bulkUrls(seeded, 120);
    for (const app of apps) await warm(appReader(app), urls);
    const channel = await watchInvalidations(ctx);
    const [target] = seeded.categories;
    try {
      // Every product: a new price and name; every 10th moves to the first category, every 25th is deactivated
      // (membership changes: listings of both categories and the categories list).
      const { rowCount } = await ctx.sql.query(
        `UPDATE catalog.products
            SET price_cents = price_cents + 1000, name = name || ' (bulk)',
                category_id = CASE WHEN price_cents % 10 = 0 THEN $2::uuid ELSE category_id END,
                active = CASE WHEN price_cents % 25 = 0 THEN false ELSE active END
          WHERE sku LIKE $1 || '%'`,
        [seeded.skuPrefix, target.id],
      );
      expect(rowCount).toBe(ROWS);
      await waitForCdc(suite.bff, 30_000);

      for (const [i, app] of apps.entries()) {
        const after = await expectViewsEqual(appReader(app), appReader(truth), urls);
        // What the statement changed was gone from L2 (the first instance reads it from the source; the second
        // may find the first one's fill) and from every L1. (Every product event drops the product's availability
        // too, docs/contract.md §5.5: all of these views changed.)
        const reads = Object.entries(after);
        expect(
          reads.filter(([, read]) => read.cache !== (i === 0 ? 'MISS' : 'HIT-L2') && read.cache !== 'MISS'),
        ).toEqual([]);
      }
    } finally {
      channel.close();
    }
    // Every changed product was announced to every L1 ...
    const productKeys = new Set(seeded.products.map((p) => `catalog:product:${p.id}`));
    const bulkMessages = channel.messages.filter((keys) => keys.some((k) => productKeys.has(k)));
    const announced = new Set(bulkMessages.flat().filter((k) => productKeys.has(k)));
    expect(announced.size).toBe(ROWS);
    // ... in messages of many keys each: one per script call of a batch (1000 entries at most), not one per row.
    expect(bulkMessages.length).toBeLessThanOrEqual(ROWS / 20);
    if (process.env.CDC_TEST_VERBOSE) {
      process.stderr.write(`bulk: ${ROWS} product events announced in ${bulkMessages.length} channel messages\n`);
    }
  }, 60_000);
});

/**
 * docs/contract.md §6.3: one poison entry is isolated and dead-lettered without holding
 * back or dead-lettering the rest of its batch.
 */
describe('CDC bulk: a poison entry inside a batch', () => {
  const suite = useSeededBff({
    instances: [CDC_ON], // CDC_MAX_DELIVERIES left at its default, 5
    truth: true,
    seed: ({ ctx }) => seedCatalog(ctx.sql, 2, 5),
  });
  let redis: Redis;

  beforeAll(() => {
    redis = rawRedis();
  });
  afterAll(() => redis.disconnect());

  const stream = () => `${suite.ctx.redisPrefix}cdc.catalog.v1`;
  const envelope = (aggregateId: string, data: Record<string, unknown>) =>
    JSON.stringify({
      id: randomUUID(),
      type: 'catalog.product.updated',
      messageVersion: 1,
      schemaVersion: 1,
      source: 'test:bulk-poison',
      occurredAt: new Date().toISOString(),
      aggregate: { type: 'product', id: aggregateId },
      data,
    });

  it('dead-letters only the poison entries; the rest of the batch is applied and acknowledged on its first delivery', async () => {
    const { bff: app, truth, seeded, ctx } = suite;
    const urls = catalogUrls(seeded);
    await warm(appReader(app), urls);
    // Changed behind the pipeline's back (capture off): only the entries below can make the cache see it.
    const client = await ctx.sql.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL session_replication_role = replica`);
      await client.query(`UPDATE catalog.products SET name = name || ' (poison batch)', price_cents = price_cents + 1`);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const stats = app.get(CdcStats);
    const before = { ...stats };
    const channel = await watchInvalidations(ctx);

    // One batch, written at once (MULTI): every product twice, a handler failure and an invalid envelope in between.
    const valid = seeded.products.flatMap((p) => [envelope(p.id, { categoryId: p.categoryId })]);
    const multi = redis.multi();
    for (const event of valid.slice(0, 4)) multi.xadd(stream(), '*', 'event', event);
    multi.xadd(stream(), '*', 'event', envelope('not-a-uuid', {})); // the catalog handler cannot build its key
    for (const event of valid.slice(4, 7)) multi.xadd(stream(), '*', 'event', event);
    multi.xadd(stream(), '*', 'event', '{"not": "json'); // not a valid envelope
    for (const event of [...valid.slice(7), ...valid]) multi.xadd(stream(), '*', 'event', event);
    const ids = ((await multi.exec()) ?? []).map(([err, id]) => {
      if (err) throw err;
      return id as string;
    });
    const [failingId, notJsonId] = [ids[4], ids[8]];
    const validCount = ids.length - 2;

    try {
      await waitForCdc(app, 20_000);
    } finally {
      channel.close();
    }
    const letters = await readStream(redis, `${stream()}:dlq`);
    expect(letters.map((l) => [l.fields.entryId, l.fields.error])).toEqual([
      [notJsonId, 'event is not JSON'],
      [failingId, expect.stringMatching(/^delivered 6 times without success; last error here: not a UUID/)],
    ]);
    await expectViewsEqual(appReader(app), appReader(truth), urls);

    // The valid entries were applied and acknowledged at once: none of them was delivered twice. Only the
    // poison was re-read (deliveries 2..6), failing on deliveries 1..5.
    expect(stats.processed - before.processed).toBe(validCount);
    expect(stats.redelivered - before.redelivered).toBe(5);
    expect(stats.failed - before.failed).toBe(5);
    expect(stats.deadLettered - before.deadLettered).toBe(2);
    // And not held back by the poison: every product was dropped before the poison (retried with back-off
    // first) reached the dead-letter stream, whose entry id is the time it was written (same clock: one host).
    const dropped = seeded.products.map((p) => channel.firstSeen.get(`catalog:product:${p.id}`));
    expect(dropped.every((at) => at !== undefined)).toBe(true);
    const deadLetteredAt = Number(letters[1].entryId.split('-')[0]);
    expect(Math.max(...(dropped as number[]))).toBeLessThan(deadLetteredAt);
  });
});

/**
 * docs/contract.md §6.3, §9.3: a consumer that dies holding a batch (read, not yet
 * acknowledged) loses none of it: another consumer reclaims the entries and
 * applies them.
 */
describe('CDC bulk: a cache-sync process SIGKILLed in the middle of a batch', () => {
  // Declared before the BFFs' fixture, so children die before their database is dropped.
  const procs = useChildProcesses();
  let redis: Redis;
  const suite = useSeededBff({
    before: async () => {
      redis = rawRedis();
    },
    instances: [CDC_OFF], // the reader: holds the views; no CDC of its own
    truth: true,
    seed: ({ ctx }) => seedBulkCatalog(ctx.sql, 4, 2000),
    settle: false, // no relay runs until the test starts the child
    after: () => redis?.disconnect(),
  });

  it('leaves its batch pending; a live subscriber reclaims and applies it: every view equals the database', async () => {
    const { bff: reader, truth, seeded, ctx } = suite;
    const urls = bulkUrls(seeded, 60);
    const child: ChildApp = await procs.start(
      'cache-sync',
      ctx.env({ CDC_RELAY: 'true', CDC_SUBSCRIBER: 'true', CDC_CONSUMER_NAME: 'bulk-child' }),
      { name: 'cache-sync child' },
    );
    await waitForCdc(reader, 30_000).catch((err: Error) => {
      throw child.error(err.message);
    });
    await warm(appReader(reader), urls);

    // Bulk statements, one after the other, until the child is caught holding a batch.
    let writing = true;
    let statements = 0;
    const writer = (async () => {
      while (writing) {
        await ctx.sql.query(`UPDATE catalog.products SET price_cents = price_cents + 1 WHERE sku LIKE $1 || '%'`, [
          seeded.skuPrefix,
        ]);
        statements++;
        await sleep(20); // load pacing: a bulk statement every few ms, not a flood
      }
    })();
    let left: Record<string, number>;
    try {
      left = await freezeHoldingEntries(child, redis, streamsOf(ctx), {
        consumer: 'bulk-child',
        atLeast: 100,
        timeoutMs: 20_000,
      });
      expect((await child.kill('SIGKILL')).signal).toBe('SIGKILL');
      const statementsAtKill = statements;
      // One more bulk change while nothing relays or consumes: it waits in the outbox.
      await eventually(() => statements > statementsAtKill, { timeoutMs: 10_000, message: 'a write after the crash' });
    } finally {
      writing = false;
      await writer;
    }
    expect(left['bulk-child']).toBeGreaterThanOrEqual(100);
    expect(await backlog(ctx.sql)).toBeGreaterThan(0);

    const subscriber = await ctx.startBff({ ...CDC_ON, CDC_CLAIM_IDLE_MS: '500' });
    await waitForCdc(subscriber, 30_000);
    expect(await pendingByConsumer(redis, streamsOf(ctx))).toEqual({});
    expect(subscriber.get(CdcStats).redelivered).toBeGreaterThanOrEqual(left['bulk-child']);
    await expectViewsEqual(appReader(reader), appReader(truth), urls);
    await expectViewsEqual(appReader(subscriber), appReader(truth), urls);
  }, 90_000);
});
