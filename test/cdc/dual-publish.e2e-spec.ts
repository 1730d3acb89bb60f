import Redis from 'ioredis';
import { CDC_ON, waitForCdc } from '../harness/cdc';
import { call, json } from '../harness/http';
import { useSeededBff } from '../harness/seeded-bff';
import { appReader, rawRedis, readStream, seedCatalog, warm } from './support';

/**
 * docs/contract.md §6.4: with CDC_DUAL_PUBLISH=catalog:1,2 the relay publishes each catalog
 * event to cdc.catalog.v1 and cdc.catalog.v2 (same id, schemaVersion 1 and 2),
 * so old and new consumers run side by side; other domains are untouched.
 */
describe('CDC dual publish during a schema migration', () => {
  /** Nobody consumes v2 here: its group does not exist, so it cannot settle. */
  const UNCONSUMED = ['cdc.catalog.v2'];
  const suite = useSeededBff({
    instances: [{ ...CDC_ON, CDC_DUAL_PUBLISH: 'catalog:1,2' }],
    seed: ({ ctx }) => seedCatalog(ctx.sql, 1, 1),
    settle: ({ bff }) => waitForCdc(bff, 10_000, UNCONSUMED),
  });
  let redis: Redis;

  beforeAll(() => {
    redis = rawRedis();
  });
  afterAll(() => redis.disconnect());

  const stream = (pattern: string) => `${suite.ctx.redisPrefix}${pattern}`;

  it('publishes every catalog event to v1 and v2 with the same id; the v1 consumer keeps applying', async () => {
    const { bff: app, seeded } = suite;
    const product = seeded.products[0].id;
    await warm(appReader(app), [`/catalog/products/${product}`]);
    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'Dual', active = false WHERE id = $1`, [product]);
    await suite.ctx.sql.query(
      `INSERT INTO orders.orders (account_id, currency, customer_email, shipping_address) VALUES ('dual-acc', 'EUR', 'd@example.com', '{}')`,
    );
    await waitForCdc(app, 10_000, UNCONSUMED);

    const v1 = await readStream(redis, stream('cdc.catalog.v1'));
    const v2 = await readStream(redis, stream('cdc.catalog.v2'));
    // Seed (category, product, stock) and the update: four events, in the same order on both streams.
    expect(v1).toHaveLength(4);
    expect(v2.map((e) => e.event.id)).toEqual(v1.map((e) => e.event.id));
    v1.forEach((entry, i) => {
      expect(entry.event.schemaVersion).toBe(1);
      expect(v2[i].event.schemaVersion).toBe(2);
      expect({ ...v2[i].event, schemaVersion: 1 }).toEqual(entry.event);
    });
    const update = v2.find((e) => e.event.type === 'catalog.product.updated')!;
    expect(update.event).toMatchObject({
      aggregate: { type: 'product', id: product },
      data: {
        categoryId: seeded.categories[0].id,
        previousCategoryId: seeded.categories[0].id,
        active: false,
        previousActive: true,
      },
    });

    // Orders are not dual-published.
    expect(await redis.xlen(stream('cdc.orders.v1'))).toBe(1);
    expect(await redis.exists(stream('cdc.orders.v2'))).toBe(0);

    // The v1 handler applied the change; a v2 consumer group can read the same event.
    expect(await appReader(app)(`/catalog/products/${product}`)).toMatchObject({
      cache: 'MISS',
      body: { name: 'Dual', active: false },
    });
    await redis.xgroup('CREATE', stream('cdc.catalog.v2'), 'v2-consumers', '0');
    const read = (await redis.xreadgroup(
      'GROUP',
      'v2-consumers',
      'c1',
      'COUNT',
      10,
      'STREAMS',
      stream('cdc.catalog.v2'),
      '>',
    )) as [string, [string, string[]][]][];
    expect(read[0][1].map(([, fields]) => JSON.parse(fields[1]).id)).toEqual(v1.map((e) => e.event.id));

    // /health/cdc watches the dual-published stream too (its cache-sync group does not exist: nobody consumes v2 here).
    const report = json(await call(app, 'GET', '/health/cdc'));
    expect(report.streams['cdc.catalog.v2']).toMatchObject({ length: v1.length });
    expect(Object.keys(report.streams)).toEqual(
      expect.arrayContaining(['cdc.catalog.v1', 'cdc.orders.v1', 'cdc.catalog.v2']),
    );
  });
});
