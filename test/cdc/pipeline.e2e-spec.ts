import { CDC_ON, waitForCdc } from '../harness/cdc';
import { call, json } from '../harness/http';
import { useSeededBff } from '../harness/seeded-bff';

describe('CDC pipeline', () => {
  // One product, created through the API.
  const suite = useSeededBff({
    instances: [CDC_ON],
    seed: async ({ bff }) => {
      const categoryId: string = json(await call(bff, 'POST', '/catalog/categories', { slug: 'tea', name: 'Tea' })).id;
      const product = await call(bff, 'POST', '/catalog/products', {
        sku: 'TEA-1',
        name: 'Green',
        priceCents: 100,
        currency: 'EUR',
        categoryId,
        stock: 5,
      });
      return { productId: json<{ id: string }>(product).id };
    },
  });

  it('publishes a captured change and drops the cached product after a plain-SQL write', async () => {
    const app = suite.bff;
    const { productId } = suite.seeded;
    await call(app, 'GET', `/catalog/products/${productId}`);
    expect((await call(app, 'GET', `/catalog/products/${productId}`)).headers['x-cache']).toBe('HIT-L1');
    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'Sencha' WHERE id = $1`, [productId]);
    await waitForCdc(app);
    const after = await call(app, 'GET', `/catalog/products/${productId}`);
    expect(after.headers['x-cache']).toBe('MISS');
    expect(json(after).name).toBe('Sencha');
  });

  it('emits nothing for a rolled-back transaction', async () => {
    const { productId } = suite.seeded;
    const count = async () => Number((await suite.ctx.sql.query('SELECT count(*) FROM cdc.outbox')).rows[0].count);
    const before = await count();
    const client = await suite.ctx.sql.connect();
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE catalog.products SET name = 'Never' WHERE id = $1`, [productId]);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(await count()).toBe(before);
  });

  it('refreshes availability after a plain-SQL stock change', async () => {
    const app = suite.bff;
    const { productId } = suite.seeded;
    await call(app, 'GET', `/catalog/products/${productId}/availability`);
    await suite.ctx.sql.query(`UPDATE catalog.stock_levels SET quantity = 42 WHERE product_id = $1`, [productId]);
    await waitForCdc(app);
    expect(json(await call(app, 'GET', `/catalog/products/${productId}/availability`)).quantity).toBe(42);
  });

  it('reports the pipeline on /health/cdc', async () => {
    const app = suite.bff;
    const report = json(await call(app, 'GET', '/health/cdc'));
    expect(report.streams['cdc.catalog.v1']).toMatchObject({ pending: 0, lag: 0, deadLetters: 0 });
    expect(report.streams['cdc.catalog.v1'].length).toBeGreaterThan(0);
    expect(report.relay).toMatchObject({ backlog: 0, activeHere: true });
    expect(report.totals.processed).toBeGreaterThan(0);
    expect(report.invalidationLagMs.p50).toEqual(expect.any(Number));
    const health = json(await call(app, 'GET', '/health'));
    expect(health.info.cdc.status).toBe('up');
  });
});
