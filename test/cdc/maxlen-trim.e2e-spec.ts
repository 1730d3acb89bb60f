import { CdcHealthService, CdcStats } from '@app/cdc';
import { eventually } from '../../tools/eventually';
import { CDC_OFF, waitForCdc } from '../harness/cdc';
import { createCategoryWithProduct } from '../harness/fixtures';
import { StartedBff, useSeededBff } from '../harness/seeded-bff';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { get200, json, rawRedis, xcache } from '../cache/support';

const MAXLEN = 1000;

/**
 * A product named 'Before' whose view `reader` holds in L1, after a subscriber read everything so far and
 * stopped: the group is there and knows what it read, and nobody consumes now.
 */
async function cachedWithGroupStopped(
  suite: StartedBff,
  reader: NestFastifyApplication,
  published: () => Promise<void>,
) {
  const first = await suite.ctx.startBff({ CDC_RELAY: 'false', CDC_SUBSCRIBER: 'true' });
  const { product, category } = await createCategoryWithProduct(reader, { name: 'Before' });
  await published();
  await waitForCdc(first);
  await first.close();
  const url = `/catalog/products/${product.id}`;
  await get200(reader, url);
  expect(xcache(await get200(reader, url))).toBe('HIT-L1');
  return { product, category, url };
}

/** Starts a subscriber; resolves once `reader` serves the view renamed 'After' and the subscriber counted a loss. */
async function subscribeUntilFresh(
  suite: StartedBff,
  reader: NestFastifyApplication,
  url: string,
): Promise<NestFastifyApplication> {
  const subscriber = await suite.ctx.startBff({ CDC_RELAY: 'false', CDC_SUBSCRIBER: 'true' });
  await eventually(async () => expect(json(await get200(reader, url)).name).toBe('After'), {
    timeoutMs: 20_000,
    message: 'the view to be read fresh',
  });
  expect(subscriber.get(CdcStats).trimmed).toBeGreaterThanOrEqual(1);
  return subscriber;
}

/**
 * docs/contract.md §6.3: events that MAXLEN trims before the consumer group read them are lost. A view
 * they should have dropped must not stay cached: the subscriber finds the gap and drops the domain.
 * One instance relays with no subscriber (the subscriber is down), a second serves reads with no CDC;
 * a subscriber starts only once the change's event has been trimmed away by 3,000 newer ones.
 */
describe('events trimmed by MAXLEN before they were read', () => {
  const suite = useSeededBff({
    instances: [{ CDC_RELAY: 'true', CDC_SUBSCRIBER: 'false', CDC_STREAM_MAXLEN: String(MAXLEN) }, CDC_OFF],
    settle: false,
  });
  const redis = rawRedis();
  afterAll(() => redis.disconnect());

  /** Until the relay (the first instance) has published every outbox row. */
  const published = () =>
    eventually(async () => expect((await suite.apps[0].get(CdcHealthService).relay()).backlog).toBe(0), {
      timeoutMs: 20_000,
      message: 'the relay to publish everything',
    });

  /** Renames the product by plain SQL, then buries that change's event under 3,000 newer ones (MAXLEN 1000). */
  async function changeThenBury(productId: string, categoryId: string, sku: string): Promise<void> {
    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'After' WHERE id = $1`, [productId]);
    await suite.ctx.sql.query(
      `INSERT INTO catalog.products (sku, name, price_cents, currency, category_id)
       SELECT $2 || '-' || g, 'Filler ' || g, 100, 'EUR', $1 FROM generate_series(1, 3000) g`,
      [categoryId, sku],
    );
    await published();
  }

  it('drop their domain, so the view they should have invalidated is read fresh', async () => {
    const [, reader] = suite.apps;
    const { product, category } = await createCategoryWithProduct(reader, { name: 'Before' });
    const url = `/catalog/products/${product.id}`;
    await get200(reader, url);
    expect(xcache(await get200(reader, url))).toBe('HIT-L1');

    await changeThenBury(product.id, category.id, 'TRIM');
    const stream = `${suite.ctx.redisPrefix}cdc.catalog.v1`;
    // The change's event is gone: the stream holds about MAXLEN of the newest entries.
    expect(await redis.xlen(stream)).toBeLessThan(2 * MAXLEN);
    expect(json(await get200(reader, url)).name).toBe('Before'); // stale while nobody consumes

    const subscriber = await subscribeUntilFresh(suite, reader, url);
    await subscriber.close(); // the next test starts with nobody consuming
  });

  it('are found too when the group had read up to them and fell behind (entries-read known)', async () => {
    const [, reader] = suite.apps;
    const { product, category, url } = await cachedWithGroupStopped(suite, reader, published);

    await changeThenBury(product.id, category.id, 'BEHIND');
    expect(json(await get200(reader, url)).name).toBe('Before');

    const second = await subscribeUntilFresh(suite, reader, url);
    // Found once: the group was moved past the gap, so reading on finds nothing more to drop.
    await waitForCdc(second);
    expect(second.get(CdcStats).trimmed).toBe(1);
  });

  it("reports no lag when nothing follows the group's last delivered entry, whatever Redis's counter says", async () => {
    const [relay] = suite.apps;
    const stream = `${suite.ctx.redisPrefix}cdc.catalog.v1`;
    const health = relay.get(CdcHealthService);
    const { lastDeliveredId } = (await health.streams())['cdc.catalog.v1'];
    // What a promoted replica of Redis 7.0 can show (entries-read is not replicated, redis/redis#12898).
    await redis.xgroup('SETID', stream, 'cache-sync', lastDeliveredId!, 'ENTRIESREAD', 1);
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    const flat = groups[0];
    expect(Number(flat[flat.indexOf('lag') + 1])).toBeGreaterThan(0);
    expect((await health.streams())['cdc.catalog.v1']).toMatchObject({ lag: 0, pending: 0 });
  });
});

/**
 * docs/contract.md §6.3: a stream deleted by hand (DEL) takes its group with it, and entries the group had not
 * applied are lost. The stream the relay then starts again counts from nothing, so its counters show no gap:
 * the group that was there once (its marker) tells the next subscriber to drop the domain.
 */
describe('a stream deleted with entries its group had not applied', () => {
  const suite = useSeededBff({ instances: [{ CDC_RELAY: 'true', CDC_SUBSCRIBER: 'false' }, CDC_OFF], settle: false });
  const redis = rawRedis();
  afterAll(() => redis.disconnect());

  const published = () =>
    eventually(async () => expect((await suite.apps[0].get(CdcHealthService).relay()).backlog).toBe(0), {
      message: 'the relay to publish everything',
    });

  it('the next subscriber drops the domain, so the view is read fresh', async () => {
    const [, reader] = suite.apps;
    const { product, url } = await cachedWithGroupStopped(suite, reader, published);

    // Published, never applied; then an operator deletes the stream (its group goes with it).
    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'After' WHERE id = $1`, [product.id]);
    await published();
    const stream = `${suite.ctx.redisPrefix}cdc.catalog.v1`;
    expect(await redis.del(stream)).toBe(1);
    expect(json(await get200(reader, url)).name).toBe('Before');

    // The stream starts again from nothing: entries-added cannot show the gap, only the group that was there.
    const second = await subscribeUntilFresh(suite, reader, url);
    await second.close();
  });
});
