import { RedisCacheStore } from '@app/cache';
import { eventually } from '../../tools/eventually';
import { createCategory, createCategoryWithProduct, createProduct, errorOf } from '../harness/fixtures';
import { Gate } from '../harness/gate';
import { useSeededBff } from '../harness/seeded-bff';
import { App, call, expectStatus, get200, json, l1Of, settle, xcache } from './support';

/**
 * docs/contract.md §4: admin patterns stay inside this deployment's domains, are bounded
 * (256 characters, 8 wildcards), are matched without backtracking, and a flush
 * reaches every instance's L1 before this one's SCAN of L2.
 */
describe('admin patterns and flushes', () => {
  const TOKEN = 'test-admin-token-0123456789';
  const suite = useSeededBff({ instances: 2, env: { ADMIN_TOKEN: TOKEN } });
  const auth = { authorization: `Bearer ${TOKEN}` };
  const usage = (app: App, pattern: string) =>
    call(app, 'GET', `/admin/cache/usage?pattern=${encodeURIComponent(pattern)}`, undefined, auth);
  const flush = (app: App, pattern: string) =>
    call(app, 'DELETE', `/admin/cache?pattern=${encodeURIComponent(pattern)}`, undefined, auth);

  it('answers 400 to a pathological pattern, and a bounded one completes; the instance answers right after', async () => {
    const app = suite.bff;
    // Listing keys with as many `a`s as a slug may hold: catalog:listing:aaa…a and catalog:listing:aaa…ab.
    const many = await createCategory(app, { slug: 'a'.repeat(64) });
    const endsInB = await createCategory(app, { slug: `${'a'.repeat(63)}b` });
    await createProduct(app, many.id);
    await createProduct(app, endsInB.id);
    await settle(app);
    const urls = [`/catalog/categories/${many.slug}/products`, `/catalog/categories/${endsInB.slug}/products`];
    for (const url of urls) {
      await get200(app, url);
      expect([url, xcache(await get200(app, url))]).toEqual([url, 'HIT-L1']);
    }

    // A RegExp built from this backtracks for ages against catalog:listing:aaa…a (the instance froze).
    const pathological = `catalog:${'*a'.repeat(30)}*b`;
    for (const res of [await flush(app, pathological), await usage(app, pathological)]) {
      expectStatus(res, 400);
      expect(errorOf(res).message).toBe('pattern has 31 wildcards (* or ?); at most 8 are allowed');
    }
    const tenKb = `catalog:${'a*'.repeat(5000)}`;
    expect(errorOf(await flush(app, tenKb)).message).toBe('pattern is 10008 characters long; at most 256 are allowed');
    // Nothing was touched, and the instance answers at once.
    for (const url of urls) expect([url, xcache(await get200(app, url))]).toEqual([url, 'HIT-L1']);

    // The same shape with 8 wildcards is allowed, and is matched here and in Redis like any other pattern.
    const bounded = `catalog:${'*a'.repeat(7)}*b`;
    const counted = await usage(app, bounded);
    expectStatus(counted, 200);
    expect(json(counted)).toEqual({ pattern: bounded, keys: 1, bytes: expect.any(Number) });
    const flushed = await flush(app, bounded);
    expectStatus(flushed, 200);
    expect(json(flushed)).toEqual({ deleted: 1 });
    expect(xcache(await get200(app, urls[0]))).toBe('HIT-L1');
    expect(xcache(await get200(app, urls[1]))).toBe('MISS');
  });

  it('allows 256 characters and 8 wildcards, refuses 257 and 9 (400, saying why)', async () => {
    const app = suite.bff;
    const longest = `catalog:product:${'x'.repeat(240)}`;
    expect(longest).toHaveLength(256);
    const eightWildcards = 'orders:*:?:*:?:*:?:*:?';
    for (const pattern of [longest, eightWildcards]) {
      expect([pattern, (await usage(app, pattern)).statusCode]).toEqual([pattern, 200]);
      expect([pattern, (await flush(app, pattern)).statusCode]).toEqual([pattern, 200]);
    }
    const refused: [string, string][] = [
      [`${longest}x`, 'pattern is 257 characters long; at most 256 are allowed'],
      [`${eightWildcards}*`, 'pattern has 9 wildcards (* or ?); at most 8 are allowed'],
    ];
    for (const [pattern, message] of refused) {
      for (const res of [await usage(app, pattern), await flush(app, pattern)]) {
        expect([pattern, res.statusCode, errorOf(res).message]).toEqual([pattern, 400, message]);
      }
    }
  });

  it("refuses what is not one of this deployment's domains, and dependency sets (400)", async () => {
    const app = suite.bff;
    const domains = "pattern must start with one of this deployment's cache domains";
    const cases: [string, string][] = [
      ['adv:*', domains],
      ['billing:*', domains],
      ['cdc.catalog.v1', 'pattern may contain only'],
      ['cdc*', domains],
      ['cache:fence-seq', domains],
      ['catalog', domains],
      ['catalog:', domains],
      ['catalog:deps:*', 'dependency sets (catalog:deps:*) cannot be flushed'],
    ];
    for (const [pattern, message] of cases) {
      for (const res of [await usage(app, pattern), await flush(app, pattern)]) {
        expect([pattern, res.statusCode, errorOf(res).message.startsWith(message)]).toEqual([pattern, 400, true]);
      }
    }
    // Every registered domain is accepted, the scaffolded ones' way too (invoices is a ttl domain).
    for (const pattern of ['catalog:*', 'orders:*', 'invoices:*']) {
      expect([pattern, (await usage(app, pattern)).statusCode]).toEqual([pattern, 200]);
    }
  });

  it("broadcasts the flush before deleting in L2, and again after: no instance's L1 keeps what was flushed", async () => {
    const [a, b] = suite.apps;
    const { product } = await createCategoryWithProduct(a);
    await settle(a);
    await settle(b);
    const url = `/catalog/products/${product.id}`;
    const key = `catalog:product:${product.id}`;
    for (const app of [a, b]) {
      await get200(app, url);
      expect(xcache(await get200(app, url))).toBe('HIT-L1');
    }

    // A's deletion in L2 is held open: it has not UNLINKed anything yet.
    const store = a.get(RedisCacheStore);
    const original = store.deleteMatching.bind(store);
    const deleting = new Gate();
    const release = new Gate();
    const spy = jest.spyOn(store, 'deleteMatching').mockImplementation(async (pattern) => {
      deleting.open();
      await release.promise;
      return original(pattern);
    });
    try {
      const flushing = flush(a, key);
      await deleting.promise;
      // B heard of it before A's L2 deletion (however slow) finished.
      await eventually(() => l1Of(b).get(key) === undefined, {
        timeoutMs: 3000,
        message: "the flush to reach B's L1 before A deletes in L2",
      });
      // Meanwhile B reads the entry from L2, still there, into its L1 …
      expect(xcache(await get200(b, url))).toBe('HIT-L2');
      expect(l1Of(b).get(key)).toBeDefined();
      release.open();
      const res = await flushing;
      expectStatus(res, 200);
      expect(json(res)).toEqual({ deleted: 1 });
      // … and the broadcast after the deletion drops it again.
      await eventually(() => l1Of(b).get(key) === undefined, {
        timeoutMs: 3000,
        message: 'the second broadcast to drop what B copied from L2 into L1',
      });
    } finally {
      release.open();
      spy.mockRestore();
    }
    // A's own L1 was cleared before it answered.
    expect(xcache(await get200(a, url))).toBe('MISS');
    expect(xcache(await get200(b, url))).not.toBe('HIT-L1');
  });
});
