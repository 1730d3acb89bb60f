import Redis from 'ioredis';
import { RedisServer } from '../../tools/redis-server';
import { createCategoryWithProduct } from '../harness/fixtures';
import { useSeededBff } from '../harness/seeded-bff';
import { App, call, expectStatus, get200, json, rawRedis, settle, xcache } from './support';

/**
 * docs/contract.md §4: whatever CACHE_KEY_PREFIX is — here empty, the default, on a Redis
 * another deployment (prefix `adv:`) also uses — the admin routes reach this
 * deployment's cache entries and nothing else: not the other deployment's
 * names, not the CDC streams, not the cache's own `cache:*` names, not the
 * dependency sets. On a throwaway redis-server, since the test Redis is shared
 * by every test file.
 */
describe('admin routes with CACHE_KEY_PREFIX empty on a shared Redis', () => {
  const TOKEN = 'test-admin-token-0123456789';
  let redis: RedisServer;
  let raw: Redis;
  const suite = useSeededBff({
    before: async () => {
      redis = await RedisServer.start();
      raw = rawRedis(redis.url);
    },
    env: () => ({ REDIS_URL: redis.url, CACHE_KEY_PREFIX: '', ADMIN_TOKEN: TOKEN }),
    seed: ({ bff }) => createCategoryWithProduct(bff),
    settle: ({ bff }) => settle(bff),
    after: async () => {
      raw?.disconnect();
      await redis?.close();
    },
  });
  const auth = { authorization: `Bearer ${TOKEN}` };
  const usage = (app: App, pattern: string) =>
    call(app, 'GET', `/admin/cache/usage?pattern=${encodeURIComponent(pattern)}`, undefined, auth);
  const flush = (app: App, pattern: string) =>
    call(app, 'DELETE', `/admin/cache?pattern=${encodeURIComponent(pattern)}`, undefined, auth);

  /** Each name's serialised value (DUMP), null when it does not exist. */
  async function dumps(names: string[]): Promise<Record<string, string | null>> {
    const out: Record<string, string | null> = {};
    for (const name of names) out[name] = (await raw.dumpBuffer(name))?.toString('hex') ?? null;
    return out;
  }

  async function allNames(): Promise<string[]> {
    const names: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await raw.scan(cursor, 'COUNT', 1000);
      names.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return names.sort();
  }

  it("never reaches another deployment's names, the streams, the cache's bookkeeping or dependency sets", async () => {
    const app = suite.bff;
    const { category, product } = suite.seeded;
    const views: Record<string, string> = {
      [`catalog:product:${product.id}`]: `/catalog/products/${product.id}`,
      [`catalog:availability:${product.id}`]: `/catalog/products/${product.id}/availability`,
      'catalog:categories': '/catalog/categories',
      [`catalog:listing:${category.slug}`]: `/catalog/categories/${category.slug}/products`,
    };
    for (const url of Object.values(views)) await get200(app, url);

    // Another deployment on the same Redis, prefix `adv:` (its own catalog, streams, fences, dependency
    // sets), one whose cache domain is called `adv`, and a name shaped unlike any of our keys.
    const foreign = {
      'adv:catalog:product:p1': () => raw.set('adv:catalog:product:p1', 'their view'),
      'adv:catalog:deps:product:p1': () => raw.sadd('adv:catalog:deps:product:p1', 'catalog:listing:x'),
      'adv:cache:{adv:catalog}:fence-seq': () => raw.set('adv:cache:{adv:catalog}:fence-seq', '42'),
      'adv:cache:{adv:catalog}:dep-fences:0': () =>
        raw.hset('adv:cache:{adv:catalog}:dep-fences:0', 'catalog:deps:product:p1', '41'),
      'adv:cache:fill:{adv:catalog:product:p1}': () =>
        raw.set('adv:cache:fill:{adv:catalog:product:p1}', 't', 'EX', 60),
      'adv:cdc.catalog.v1': () => raw.xgroup('CREATE', 'adv:cdc.catalog.v1', 'cache-sync', '0', 'MKSTREAM'),
      'adv:cdc.catalog.v1:dlq': () => raw.xadd('adv:cdc.catalog.v1:dlq', '*', 'event', '{}', 'error', 'theirs'),
      'adv:product:1': () => raw.set('adv:product:1', 'an adv entry'),
      adv: () => raw.xadd('adv', '*', 'event', '{}'),
      'catalog:x:catalog:product:p1': () => raw.set('catalog:x:catalog:product:p1', 'not one of our keys'),
    };
    for (const write of Object.values(foreign)) await write();

    const names = await allNames();
    const entries = Object.keys(views).sort();
    const sequence = 'cache:{catalog}:fence-seq';
    for (const name of [...entries, 'cdc.catalog.v1', 'cdc.orders.v1', sequence, 'cache:db-identity']) {
      expect([name, names.includes(name)]).toEqual([name, true]);
    }
    const dependencySets = names.filter((n) => n.startsWith('catalog:deps:'));
    expect(dependencySets.length).toBeGreaterThanOrEqual(2); // the product's and the category's
    // The other deployment's names must come out of this exactly as they went in; our own names other than
    // the entries must all still be there (but leases and fill tickets, which expire by themselves).
    const theirs = Object.keys(foreign).sort();
    const before = await dumps(theirs);
    const lasting: string[] = [];
    for (const name of names) {
      if (!entries.includes(name) && !theirs.includes(name) && (await raw.pttl(name)) === -1) lasting.push(name);
    }
    expect(lasting).toEqual(expect.arrayContaining(['cdc.catalog.v1', sequence, ...dependencySets]));

    for (const pattern of ['*', 'adv:*', 'adv*', '?dv:*', 'cdc*', 'cdc.catalog.v1', 'cache:*', 'cache:fence-seq']) {
      for (const res of [await usage(app, pattern), await flush(app, pattern)]) {
        expect([pattern, res.statusCode]).toEqual([pattern, 400]);
      }
    }
    for (const pattern of ['catalog:deps:*', 'catalog:deps:product:*']) {
      expect([pattern, (await flush(app, pattern)).statusCode]).toEqual([pattern, 400]);
    }
    // Accepted, but these reach only dependency sets (or nothing): no entry, so nothing is counted or deleted.
    for (const pattern of [
      'catalog:d*',
      'catalog:?eps:*',
      'catalog:*:*:*',
      'catalog:*deps*',
      'orders:*',
      'invoices:*',
    ]) {
      const counted = await usage(app, pattern);
      expectStatus(counted, 200);
      expect([pattern, json(counted).keys]).toEqual([pattern, 0]);
      expect([pattern, json(await flush(app, pattern))]).toEqual([pattern, { deleted: 0 }]);
    }
    // The whole domain: exactly our four entries.
    const counted = await usage(app, 'catalog:*');
    expect(json(counted)).toEqual({ pattern: 'catalog:*', keys: 4, bytes: expect.any(Number) });
    expect(json(await flush(app, 'catalog:*'))).toEqual({ deleted: 4 });

    expect(await dumps(theirs)).toEqual(before);
    for (const name of lasting) expect([name, await raw.exists(name)]).toEqual([name, 1]);
    for (const name of entries) expect([name, await raw.exists(name)]).toEqual([name, 0]);
    // And the views come back from the source.
    for (const url of Object.values(views)) expect([url, xcache(await get200(app, url))]).toEqual([url, 'MISS']);
  });
});
