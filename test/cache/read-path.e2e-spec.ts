import { call, json } from '../harness/http';
import { useSeededBff } from '../harness/seeded-bff';
import { settle } from './support';

describe('cache read path (basic)', () => {
  const suite = useSeededBff();

  it('answers MISS then HIT-L1 with the same body and ETag, and 304 on If-None-Match', async () => {
    const app = suite.bff;
    const category = json(await call(app, 'POST', '/catalog/categories', { slug: 'tea', name: 'Tea' }));
    const product = json(
      await call(app, 'POST', '/catalog/products', {
        sku: 'TEA-1',
        name: 'Green',
        priceCents: 100,
        currency: 'EUR',
        categoryId: category.id,
      }),
    );
    // The create's invalidation (CDC, a moment after the write answered) must not land while the first GET fills
    // (it would keep the fill out of L1, or drop it).
    await settle(app);
    const first = await call(app, 'GET', `/catalog/products/${product.id}`);
    const second = await call(app, 'GET', `/catalog/products/${product.id}`);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(second.headers['x-cache']).toBe('HIT-L1');
    expect(second.body).toBe(first.body);
    expect(second.headers.etag).toBe(first.headers.etag);
    const notModified = await call(app, 'GET', `/catalog/products/${product.id}`, undefined, {
      'if-none-match': String(first.headers.etag),
    });
    expect(notModified.statusCode).toBe(304);
    expect(notModified.body).toBe('');

    await call(app, 'PATCH', `/catalog/products/${product.id}`, { name: 'Sencha' });
    // The write does not touch the cache: the CDC pipeline drops the entry once the change is processed.
    await settle(app);
    const after = await call(app, 'GET', `/catalog/products/${product.id}`);
    expect(after.headers['x-cache']).toBe('MISS');
    expect(json(after).name).toBe('Sencha');

    const stats = json(await call(app, 'GET', '/health/catalog/cache'));
    expect(stats.metrics.product).toMatchObject({ l1Hits: 2, misses: 2 });
    const health = json(await call(app, 'GET', '/health'));
    expect(health.info.redis.status).toBe('up');
  });
});
