import type { Redis } from 'ioredis';
import { CACHE_SUBSCRIBER } from '@app/cache';
import { CdcHealthService } from '@app/cdc';
import { createCategoryWithProduct, createProduct } from '../harness/fixtures';
import { CDC_OFF } from '../harness/cdc';
import { useSeededBff } from '../harness/seeded-bff';
import { eventually } from '../../tools/eventually';
import { RedisCluster } from '../../tools/redis-cluster';
import { App, call, expectStatus, get200, json, l1Of, settle, xcache } from './support';

const TOKEN = 'cluster-admin-token';

/**
 * docs/contract.md §5.10: the whole BFF on a Redis Cluster (3 masters + 3 replicas, REDIS_CLUSTER_NODES), two
 * instances (the first runs the relay and the subscriber): hits from L1 and L2, invalidation by plain SQL
 * through CDC (keys and dependency sets on different masters), the L1 channel, admin flushes over every
 * master, /health, and a master failover in the middle.
 */
describe('the BFF on a Redis Cluster', () => {
  let cluster: RedisCluster;
  const suite = useSeededBff({
    before: async () => {
      cluster = await RedisCluster.start();
    },
    instances: [{}, CDC_OFF],
    env: () => ({ REDIS_CLUSTER_NODES: cluster.nodeList, ADMIN_TOKEN: TOKEN }),
    after: () => cluster?.stop(),
    timeoutMs: 120_000,
  });
  const auth = { authorization: `Bearer ${TOKEN}` };
  const names = (app: App, url: string) => get200(app, url).then((res) => json(res));

  it('serves hits from L1 and L2, and drops a view and the listings holding it on a plain SQL change', async () => {
    const [a, b] = suite.apps;
    const { product, category } = await createCategoryWithProduct(a, { name: 'Before', priceCents: 100 });
    await createProduct(a, category.id);
    await Promise.all([settle(a), settle(b)]);
    const item = `/catalog/products/${product.id}`;
    const listing = `/catalog/categories/${category.slug}/products`;
    for (const app of [a, b]) {
      for (const url of [item, listing]) {
        await get200(app, url);
        expect([url, xcache(await get200(app, url))]).toEqual([url, 'HIT-L1']);
      }
    }
    expect(l1Of(b).active).toBe(true);

    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'After', price_cents = 200 WHERE id = $1`, [
      product.id,
    ]);
    await eventually(
      async () => {
        for (const app of [a, b]) {
          expect((await names(app, item)).name).toBe('After');
          const listed = (await names(app, listing)).products.find((p: { id: string }) => p.id === product.id);
          expect(listed.priceCents).toBe(200);
        }
      },
      { message: 'both instances to serve the change' },
    );
  });

  it('flushes by admin pattern on every master, and reports redis up in /health', async () => {
    const [a] = suite.apps;
    const ids: string[] = [];
    const { category } = await createCategoryWithProduct(a);
    for (let i = 0; i < 12; i++) ids.push((await createProduct(a, category.id)).id);
    await settle(a);
    for (const id of ids) await get200(a, `/catalog/products/${id}`);
    const flushed = await call(a, 'DELETE', '/admin/cache?pattern=catalog:product:*', undefined, auth);
    expectStatus(flushed, 200);
    expect(json(flushed).deleted).toBeGreaterThanOrEqual(ids.length);
    for (const id of ids) expect(xcache(await get200(a, `/catalog/products/${id}`))).toBe('MISS');
    const health = await call(a, 'GET', '/health');
    expectStatus(health, 200);
    expect(json(health).details.redis.status).toBe('up');
  });

  it('keeps serving through a SIGKILL of the master holding a view, and invalidates it afterwards', async () => {
    const [a, b] = suite.apps;
    const { product } = await createCategoryWithProduct(a, { name: 'Before failover' });
    await settle(a);
    const item = `/catalog/products/${product.id}`;
    await get200(b, item);
    const master = await cluster.masterOf(`${suite.ctx.redisPrefix}catalog:product:${product.id}`);
    await cluster.kill(master);
    // Never an error: served from the cache, or from the source while the cluster settles.
    for (const app of [a, b]) await get200(app, item);
    // Once the old master is back (as a replica), writes the fence rests on are acknowledged again.
    await cluster.restart(master);
    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'After failover' WHERE id = $1`, [product.id]);
    await eventually(
      async () => {
        for (const app of [a, b]) expect((await names(app, item)).name).toBe('After failover');
      },
      { timeoutMs: 20_000, message: 'the change to reach both instances after the failover' },
    );
  });

  it("moves an instance's L1 subscription to another node when its node dies, and L1 answers again", async () => {
    const [a, b] = suite.apps;
    const subscriber = a.get<symbol, Redis>(CACHE_SUBSCRIBER);
    const port = subscriber.options.port;
    const node = (await cluster.nodes()).find((n) => n.port === port)!;
    await cluster.kill(node);
    let restarted = false;
    try {
      await eventually(() => l1Of(a).active && subscriber.options.port !== port, {
        timeoutMs: 15_000,
        message: "a's L1 back on, subscribed on another node",
      });
      // Back as a replica: if it was a master, its promoted replica has none until then, and writes that must
      // reach one (fences, relay appends) wait for it (docs/contract.md §5.10).
      await cluster.restart(node);
      restarted = true;
      // The new subscription carries invalidations: a change made through b drops a's L1 copy.
      const { product } = await createCategoryWithProduct(b, { name: 'On the new node' });
      await settle(a);
      const item = `/catalog/products/${product.id}`;
      await get200(a, item);
      expect(xcache(await get200(a, item))).toBe('HIT-L1');
      await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'Seen there' WHERE id = $1`, [product.id]);
      await eventually(async () => expect((await names(a, item)).name).toBe('Seen there'), {
        message: "the change to reach a's L1",
      });
    } finally {
      if (!restarted) await cluster.restart(node);
    }
    // Through every failover of this file: invalidations that failed on Redis (a master without a replica to
    // WAIT for) were retried in place, never dead-lettered.
    const streams = await a.get(CdcHealthService).streams();
    expect(streams['cdc.catalog.v1'].deadLetters).toBe(0);
  });
});
