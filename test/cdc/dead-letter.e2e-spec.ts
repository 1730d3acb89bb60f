import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { CDC_ON, waitForCdc } from '../harness/cdc';
import { call, json } from '../harness/http';
import { useSeededBff } from '../harness/seeded-bff';
import { appReader, expectViewsEqual, rawRedis, readStream, seedCatalog, SHIPPING, uniq, warm } from './support';

/**
 * docs/contract.md §6.3: an entry that is not a valid envelope, or whose handling fails
 * more than CDC_MAX_DELIVERIES (default 5) times, is copied to `<stream>:dlq`
 * with the error and acknowledged, and the entries behind it keep flowing.
 */
describe('CDC dead letters: poison entries are set aside, the rest keeps flowing', () => {
  const suite = useSeededBff({
    instances: [CDC_ON], // CDC_MAX_DELIVERIES left at its default, 5
    truth: true,
    seed: ({ ctx }) => seedCatalog(ctx.sql, 1, 2),
  });
  let redis: Redis;

  beforeAll(() => {
    redis = rawRedis();
  });
  afterAll(() => redis.disconnect());

  const stream = (domain: string) => `${suite.ctx.redisPrefix}cdc.${domain}.v1`;
  /** The /health/cdc totals now: each test checks what it moved, whatever ran before it. */
  const totals = async () => json(await call(suite.bff, 'GET', '/health/cdc')).totals;

  function envelope(overrides: Record<string, unknown>): string {
    return JSON.stringify({
      id: randomUUID(),
      type: 'catalog.product.updated',
      messageVersion: 1,
      schemaVersion: 1,
      source: 'test:poison',
      occurredAt: new Date().toISOString(),
      aggregate: { type: 'product', id: suite.seeded.products[0].id },
      data: {},
      ...overrides,
    });
  }

  it('dead-letters a non-JSON event, an entry without one, and an envelope whose handler always fails; acks them; keeps applying later entries', async () => {
    const { bff: app, truth, seeded } = suite;
    const [p0, p1] = seeded.products;
    const urls = [
      `/catalog/products/${p0.id}`,
      `/catalog/products/${p1.id}`,
      `/catalog/categories/${seeded.categories[0].slug}/products`,
    ];
    await warm(appReader(app), urls);
    const before = await totals();

    const notJson = await redis.xadd(stream('catalog'), '*', 'event', '{"id": "truncated');
    const noEvent = await redis.xadd(stream('catalog'), '*', 'payload', 'something else');
    // Valid as an envelope, but the catalog handler cannot build a key from a non-UUID id: it fails every time.
    const failing = envelope({ aggregate: { type: 'product', id: 'not-a-uuid' } });
    const failingId = await redis.xadd(stream('catalog'), '*', 'event', failing);
    // Right behind the poison: a captured change and a hand-written valid one.
    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'After the poison' WHERE id = $1`, [p0.id]);
    await redis.xadd(
      stream('catalog'),
      '*',
      'event',
      envelope({ aggregate: { type: 'product', id: p1.id }, data: { categoryId: p1.categoryId } }),
    );

    await waitForCdc(app, 20_000);

    const letters = await readStream(redis, `${stream('catalog')}:dlq`);
    expect(letters.map((l) => l.fields.entryId)).toEqual([notJson, noEvent, failingId]);
    for (const letter of letters) {
      expect(letter.fields).toMatchObject({
        stream: stream('catalog'),
        failedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
    }
    expect(letters[0].fields).toMatchObject({
      event: '{"id": "truncated',
      error: 'event is not JSON',
      deliveries: '1',
    });
    expect(letters[1].fields).toMatchObject({ event: '', error: 'entry has no event field' });
    expect(letters[2].fields).toMatchObject({
      event: failing,
      // The handler's own error (not Nest's generic one) travels with the dead letter.
      error: expect.stringMatching(/^delivered 6 times without success; last error here: not a UUID/),
      deliveries: '6',
    });

    // Acknowledged: nothing pending, and the views changed behind the poison were applied.
    const pending = (await redis.xpending(stream('catalog'), 'cache-sync')) as [number];
    expect(pending[0]).toBe(0);
    const after = await expectViewsEqual(appReader(app), appReader(truth), urls);
    expect(after[urls[0]]).toMatchObject({ cache: 'MISS', body: { name: 'After the poison' } });
    expect(after[urls[1]].cache).toBe('MISS'); // the hand-written envelope for p1 was applied too

    const report = json(await call(app, 'GET', '/health/cdc'));
    expect(report.streams['cdc.catalog.v1']).toMatchObject({ deadLetters: 3, pending: 0, lag: 0 });
    expect(report.streams['cdc.orders.v1']).toMatchObject({ deadLetters: 0 });
    expect(report.totals.deadLettered - before.deadLettered).toBe(3);
    // The failing envelope was handled (and failed) on deliveries 1–5; the 6th went to the DLQ unhandled.
    expect(report.totals.failed - before.failed).toBe(5);
    expect(report.totals.redelivered - before.redelivered).toBeGreaterThanOrEqual(5);
  });

  it('dead-letters an envelope whose keys could reach beyond one cache key, and deletes nothing for it', async () => {
    const { bff: app, seeded } = suite;
    const account = `acc-${uniq()}`;
    const created = await call(app, 'POST', '/orders', {
      accountId: account,
      currency: 'EUR',
      customerEmail: 'k@example.com',
      shippingAddress: SHIPPING,
      items: [{ productId: seeded.products[1].id, quantity: 1 }],
    });
    expect(created.statusCode).toBe(201);
    await waitForCdc(app);
    const url = `/accounts/${account}/orders`;
    await warm(appReader(app), [url]);
    const before = await totals();

    const wildcard = envelope({
      type: 'orders.order.updated',
      aggregate: { type: 'order', id: json(created).id },
      data: {},
      keys: ['orders:account:*'],
    });
    const id = await redis.xadd(stream('orders'), '*', 'event', wildcard);
    const later = await redis.xadd(
      stream('orders'),
      '*',
      'event',
      envelope({ type: 'orders.note.updated', aggregate: { type: 'note', id: 'n1' }, keys: [] }),
    );
    await waitForCdc(app);

    const letters = await readStream(redis, `${stream('orders')}:dlq`);
    expect(letters).toHaveLength(1);
    expect(letters[0].fields).toMatchObject({
      entryId: id,
      event: wildcard,
      error: expect.stringContaining('keys must be cache keys'),
    });
    expect((await appReader(app)(url)).cache).toBe('HIT-L1');
    const groups = (await redis.xinfo('GROUPS', stream('orders'))) as unknown[][];
    expect(groups[0][groups[0].indexOf('last-delivered-id') + 1]).toBe(later);

    const report = json(await call(app, 'GET', '/health/cdc'));
    expect(report.streams['cdc.orders.v1'].deadLetters).toBe(1);
    expect(report.totals.deadLettered - before.deadLettered).toBe(1);
  });
});
