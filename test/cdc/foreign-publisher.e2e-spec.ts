import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { RedisStreamsClient } from '@app/cdc';
import { CDC_OFF, CDC_ON, waitForCdc } from '../harness/cdc';
import { call, json } from '../harness/http';
import { useSeededBff } from '../harness/seeded-bff';
import { testRedisTopology } from '../harness/test-redis';
import { appReader, rawRedis, Reader, seedCatalog, SHIPPING, uniq, warm } from './support';

/**
 * docs/contract.md §6.2: other services may publish to the same streams with the same
 * envelope; `keys` names cache keys to drop. Such an event is applied like a
 * captured one: the keys go from L2 and from every instance's L1, and nothing
 * else does.
 */
describe('CDC events from another publisher', () => {
  const suite = useSeededBff({
    // Instance 0 runs the pipeline; instance 1 only caches (its L1 hears invalidations on the channel).
    instances: [CDC_ON, CDC_OFF],
    seed: ({ ctx }) => seedCatalog(ctx.sql, 2, 2),
  });
  let readers: Reader[];
  let redis: Redis;
  let client: RedisStreamsClient;

  beforeAll(async () => {
    readers = suite.apps.map(appReader);
    redis = rawRedis();
    client = new RedisStreamsClient({
      redis: testRedisTopology(),
      replicas: { replicas: 0, timeoutMs: 0 },
      prefix: suite.ctx.redisPrefix,
      maxLen: 1000,
    });
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    redis?.disconnect();
  });

  const envelope = (fields: Record<string, unknown>) => ({
    id: randomUUID(),
    messageVersion: 1,
    schemaVersion: 1,
    occurredAt: new Date().toISOString(),
    data: {},
    ...fields,
  });

  /** X-Cache of each url on each instance. */
  async function states(urls: string[]): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const url of urls) out[url] = [(await readers[0](url)).cache!, (await readers[1](url)).cache!];
    return out;
  }

  it('drops exactly the explicit keys of an envelope emitted with RedisStreamsClient, on every instance', async () => {
    const { seeded } = suite;
    const [p0, p1] = seeded.products;
    const listing0 = `/catalog/categories/${seeded.categories[0].slug}/products`;
    const listing1 = `/catalog/categories/${seeded.categories[1].slug}/products`;
    const urls = [
      `/catalog/products/${p0.id}`,
      `/catalog/products/${p1.id}`,
      listing0,
      listing1,
      '/catalog/categories',
    ];
    for (const r of readers) await warm(r, urls);

    await lastValueFrom(
      client.emit(
        'cdc.catalog.v1',
        envelope({
          type: 'catalog.promotion.updated', // an aggregate the catalog does not know: only the keys apply
          source: 'pricing-service',
          aggregate: { type: 'promotion', id: 'spring-sale' },
          keys: [`catalog:product:${p0.id}`, `catalog:listing:${seeded.categories[1].slug}`],
        }),
      ),
    );
    await waitForCdc(suite.bff);
    expect(await states(urls)).toEqual({
      [urls[0]]: ['MISS', 'HIT-L2'],
      [urls[1]]: ['HIT-L1', 'HIT-L1'],
      [listing0]: ['HIT-L1', 'HIT-L1'],
      [listing1]: ['MISS', 'HIT-L2'],
      '/catalog/categories': ['HIT-L1', 'HIT-L1'],
    });
  });

  it('applies a raw XADD to the orders stream: the account summaries go, the order detail stays', async () => {
    const { seeded } = suite;
    const account = `acc-${uniq()}`;
    const created = await call(suite.bff, 'POST', '/orders', {
      accountId: account,
      currency: 'EUR',
      customerEmail: 'f@example.com',
      shippingAddress: SHIPPING,
      items: [{ productId: seeded.products[2].id, quantity: 1 }],
    });
    expect(created.statusCode).toBe(201);
    await waitForCdc(suite.bff);
    const urls = [`/accounts/${account}/orders`, `/orders/${json(created).id}`];
    for (const r of readers) await warm(r, urls);

    const event = envelope({
      type: 'orders.loyalty.updated',
      source: 'loyalty-service',
      aggregate: { type: 'loyalty', id: account },
      keys: [`orders:account:${account}`],
    });
    await redis.xadd(`${suite.ctx.redisPrefix}cdc.orders.v1`, '*', 'event', JSON.stringify(event));
    await waitForCdc(suite.bff);
    expect(await states(urls)).toEqual({ [urls[0]]: ['MISS', 'HIT-L2'], [urls[1]]: ['HIT-L1', 'HIT-L1'] });
  });

  it('treats a product event without the captured before/after data as a membership change', async () => {
    const { seeded } = suite;
    const p = seeded.products[3];
    const category = seeded.categories.find((c) => c.id === p.categoryId)!;
    const other = seeded.categories.find((c) => c.id !== p.categoryId)!;
    const urls = [
      `/catalog/products/${p.id}`,
      `/catalog/categories/${category.slug}/products`,
      '/catalog/categories',
      `/catalog/categories/${other.slug}/products`,
    ];
    for (const r of readers) await warm(r, urls);
    await lastValueFrom(
      client.emit(
        'cdc.catalog.v1',
        envelope({ type: 'catalog.product.updated', source: 'importer', aggregate: { type: 'product', id: p.id } }),
      ),
    );
    await waitForCdc(suite.bff);
    const after = await states(urls);
    expect(after[urls[0]]).toEqual(['MISS', 'HIT-L2']);
    expect(after[urls[1]]).toEqual(['MISS', 'HIT-L2']);
    expect(after[urls[2]]).toEqual(['MISS', 'HIT-L2']);
    expect(after[urls[3]]).toEqual(['HIT-L1', 'HIT-L1']);
  });
});
