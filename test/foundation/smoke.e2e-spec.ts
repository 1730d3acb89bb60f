import { call, json } from '../harness/http';
import { useTestContext } from '../harness/test-context';

describe('BFF smoke', () => {
  const ctx = useTestContext();

  it('serves a category written through the API and its health', async () => {
    const app = await ctx().startBff();
    const created = await call(app, 'POST', '/catalog/categories', { slug: 'tea', name: 'Tea' });
    expect(created.statusCode).toBe(201);
    const list = await call(app, 'GET', '/catalog/categories');
    expect(json(list)).toEqual([{ id: json(created).id, slug: 'tea', name: 'Tea', productCount: 0 }]);
    const health = await call(app, 'GET', '/health');
    expect(health.statusCode).toBe(200);
    expect(json(health).info.database.status).toBe('up');
  });
});
