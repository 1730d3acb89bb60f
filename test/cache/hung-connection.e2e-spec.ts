import { eventually } from '../../tools/eventually';
import type { TcpProxy } from '../../tools/tcp-proxy';
import { createCategoryWithProduct } from '../harness/fixtures';
import { useSeededBff } from '../harness/seeded-bff';
import { proxyToTestRedis } from '../harness/test-redis';
import { call, get200, json, l1Of, settle, xcache } from './support';

/**
 * docs/contract.md §5.8: a connection that hangs for good (a half-open TCP connection, a middlebox that holds
 * bytes and never lets go) while Redis answers whoever connects afresh. Nothing closes such a connection, so
 * every client that uses it must notice (a command with no answer) and connect again: the cache's commands,
 * the CDC subscriber's reads, the relay's appends and the invalidation channel. Otherwise the instance serves
 * from the source forever (no L2), or worse, keeps a view cached that its CDC subscriber never invalidates.
 */
describe('Redis connections that hang for good while Redis answers new ones', () => {
  let proxy: TcpProxy;
  const suite = useSeededBff({
    before: async () => {
      proxy = await proxyToTestRedis();
    },
    // One instance: relay, subscriber and cache all reach Redis through the proxy.
    env: () => ({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, CDC_RELAY_STALL_MS: '1000' }),
    seed: async ({ bff }) => (await createCategoryWithProduct(bff, { stock: 5 })).product as { id: string },
    settle: ({ bff }) => settle(bff),
    after: () => proxy?.close(),
  });

  it('every client connects again: reads are cached again and a change made meanwhile is invalidated', async () => {
    const app = suite.bff;
    const url = `/catalog/products/${suite.seeded.id}`;
    await get200(app, url);
    await eventually(async () => xcache(await get200(app, url)) === 'HIT-L1', { message: `${url} in L1` });

    await proxy.holdEstablished();
    // Behind the cache: only CDC can tell the instance, through a relay and a subscriber whose connections hang.
    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'Changed while the connections hung' WHERE id = $1`, [
      suite.seeded.id,
    ]);

    // Served fresh and from the cache again: the view was invalidated, then filled through new connections.
    await eventually(
      async () => {
        const res = await get200(app, url);
        expect([json(res).name, xcache(res)]).toEqual(['Changed while the connections hung', 'HIT-L1']);
      },
      { timeoutMs: 30_000, intervalMs: 100, message: 'the change to be served from the cache' },
    );
    expect((await call(app, 'GET', '/health')).statusCode).toBe(200);
    expect(l1Of(app).active).toBe(true);
  }, 60_000);
});
