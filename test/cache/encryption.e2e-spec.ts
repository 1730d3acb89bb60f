import { randomBytes } from 'node:crypto';
import { createCategoryWithProduct, createOrder, tag } from '../harness/fixtures';
import { useSeededBff } from '../harness/seeded-bff';
import { App, get200, json, rawRedis, settle, xcache } from './support';

/** docs/contract.md §5.7: buckets holding personal data are AES-256-GCM encrypted in Redis; the others are readable. */
describe('encryption at rest', () => {
  const suite = useSeededBff();
  const redis = rawRedis();

  afterAll(() => redis.disconnect());

  const raw = async (key: string): Promise<Buffer> => {
    const value = await redis.getBuffer(`${suite.ctx.redisPrefix}${key}`);
    if (!value) throw new Error(`no Redis value at ${key}`);
    return value;
  };

  const header = (value: Buffer) => JSON.parse(value.subarray(0, value.indexOf(0x0a)).toString());

  async function cachedOrder(app: App) {
    const t = tag();
    const { product } = await createCategoryWithProduct(app, { stock: 10 });
    const address = {
      name: `Grace ${t}`,
      line1: `${t} Compiler Lane`,
      city: `Arlington${t}`,
      postalCode: `PC${t}`,
      country: 'US',
    };
    const email = `grace.${t}@example.com`;
    const order = await createOrder(app, [{ productId: product.id, quantity: 1 }], {
      customerEmail: email,
      shippingAddress: address,
    });
    // The creation's invalidations (CDC) must not drop the entry the test fills and then looks at in Redis.
    await settle(app);
    return { order, email, address };
  }

  it('an order detail in Redis shows neither the customer email nor the address, and still reads back', async () => {
    const app = suite.bff;
    const { order, email, address } = await cachedOrder(app);
    const miss = await get200(app, `/orders/${order.id}`);
    expect(xcache(miss)).toBe('MISS');
    expect(json(miss).customerEmail).toBe(email);

    const value = await raw(`orders:detail:${order.id}`);
    const text = value.toString('latin1');
    for (const secret of [email, address.name, address.line1, address.city, address.postalCode, order.accountId]) {
      expect(text).not.toContain(secret);
    }
    expect(header(value)).toMatchObject({ e: miss.headers.etag, x: 1 });

    // Another instance without L1 decrypts it from Redis to the same bytes.
    const other = await suite.ctx.startBff({ L1_ENABLED: 'false' });
    const l2 = await get200(other, `/orders/${order.id}`);
    expect(xcache(l2)).toBe('HIT-L2');
    expect(l2.body).toBe(miss.body);
    expect(l2.headers.etag).toBe(miss.headers.etag);
  });

  it("an account's order list is encrypted too", async () => {
    const app = suite.bff;
    const { order } = await cachedOrder(app);
    await get200(app, `/accounts/${order.accountId}/orders`);
    const value = await raw(`orders:account:${order.accountId}`);
    expect(header(value).x).toBe(1);
    expect(value.toString('latin1')).not.toContain(order.id);
  });

  it('a catalog product is stored as readable JSON after its header line', async () => {
    const app = suite.bff;
    const { product } = await createCategoryWithProduct(app, { name: `Readable ${tag()}` });
    await settle(app);
    const res = await get200(app, `/catalog/products/${product.id}`);
    const value = await raw(`catalog:product:${product.id}`);
    const newline = value.indexOf(0x0a);
    expect(header(value)).toEqual({ e: res.headers.etag, t: expect.any(Number) });
    expect(value.subarray(newline + 1).toString()).toBe(res.body);
    expect(JSON.parse(value.subarray(newline + 1).toString())).toEqual(json(res));
  });

  it('an entry sealed with another key is ignored (a miss), never a 500 or garbage', async () => {
    const app = suite.bff;
    const { order } = await cachedOrder(app);
    const sealed = await get200(app, `/orders/${order.id}`);
    const otherKey = await suite.ctx.startBff({
      CACHE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      L1_ENABLED: 'false',
    });
    const res = await get200(otherKey, `/orders/${order.id}`);
    expect(xcache(res)).toBe('MISS');
    expect(res.body).toBe(sealed.body);
    // The fill replaced the unreadable entry (it was not waited on as if someone else were filling it).
    const again = await get200(otherKey, `/orders/${order.id}`);
    expect(xcache(again)).toBe('HIT-L2');
    expect(again.body).toBe(sealed.body);
  });
});
