import { createCategory, createProduct } from '../harness/fixtures';
import { useSeededBff } from '../harness/seeded-bff';
import { call, expectStatus, get200, json, settle, xcache } from './support';

/**
 * docs/contract.md §5.5 / §9.5 (granular): a change drops exactly the views built from
 * what changed. Listings record their products and category; the categories
 * list records every category and is dropped only when a productCount can
 * change (a product inserted, deleted, moved, or (de)activated).
 */
describe('dependency tracking (catalog)', () => {
  // Category A with products a1 and a2, category B with one product.
  const suite = useSeededBff({
    seed: async ({ bff }) => {
      const a = await createCategory(bff, { name: 'A dependency test' });
      const b = await createCategory(bff, { name: 'B dependency test' });
      const a1 = await createProduct(bff, a.id, { name: 'A one', stock: 5 });
      const a2 = await createProduct(bff, a.id, { name: 'A two', stock: 5 });
      await createProduct(bff, b.id, { name: 'B one', stock: 5 });
      return { a1, a2, slugA: a.slug, slugB: b.slug, categoryA: a.id, categoryB: b.id };
    },
  });

  const views = () => {
    const { slugA, slugB, a1 } = suite.seeded;
    return {
      categories: '/catalog/categories',
      listingA: `/catalog/categories/${slugA}/products`,
      listingB: `/catalog/categories/${slugB}/products`,
      productA1: `/catalog/products/${a1.id}`,
      availabilityA1: `/catalog/products/${a1.id}/availability`,
    };
  };
  type View = keyof ReturnType<typeof views>;

  /** Reads every view until each is in L1. */
  async function warm(): Promise<void> {
    await settle(suite.bff);
    for (const url of Object.values(views())) {
      await get200(suite.bff, url);
      expect([url, xcache(await get200(suite.bff, url))]).toEqual([url, 'HIT-L1']);
    }
  }

  /**
   * The X-Cache each view answers once the writes so far have been invalidated
   * (through CDC, a moment after they answered), reading each view once.
   */
  async function statuses(): Promise<Record<View, string | undefined>> {
    await settle(suite.bff);
    const result = {} as Record<View, string | undefined>;
    for (const [name, url] of Object.entries(views()) as [View, string][])
      result[name] = xcache(await get200(suite.bff, url));
    return result;
  }

  const countOf = async (categoryId: string): Promise<number> =>
    json<any[]>(await get200(suite.bff, '/catalog/categories')).find((c) => c.id === categoryId).productCount;
  const idsIn = async (slug: string): Promise<string[]> =>
    json(await get200(suite.bff, `/catalog/categories/${slug}/products`)).products.map((p: any) => p.id);

  it("a price change refills the product, its availability and A's listing only; B's listing and the categories list stay cached", async () => {
    const app = suite.bff;
    const { a1 } = suite.seeded;
    await warm();
    expectStatus(await call(app, 'PATCH', `/catalog/products/${a1.id}`, { priceCents: 4242 }), 200);
    expect(await statuses()).toEqual({
      categories: 'HIT-L1',
      listingA: 'MISS',
      listingB: 'HIT-L1',
      productA1: 'MISS',
      // Every product event drops availability (built from the product row when there is no stock row).
      availabilityA1: 'MISS',
    });
    const listing = json(await get200(app, views().listingA));
    expect(listing.products.find((p: any) => p.id === a1.id).priceCents).toBe(4242);
  });

  it('a product without a stock row: its availability is built from the product row, and a change to that row refills it', async () => {
    const app = suite.bff;
    const { categoryA } = suite.seeded;
    // Plain SQL, as an import would: a product and no stock row.
    const {
      rows: [{ id }],
    } = await suite.ctx.sql.query<{ id: string }>(
      `INSERT INTO catalog.products (sku, name, price_cents, currency, category_id)
       VALUES ('NO-STOCK-' || upper(substr(md5(random()::text), 1, 12)), 'Without stock', 100, 'EUR', $1) RETURNING id`,
      [categoryA],
    );
    await settle(app);
    const url = `/catalog/products/${id}/availability`;
    const before = json(await get200(app, url));
    expect(before).toMatchObject({ productId: id, quantity: 0, inStock: false });
    expect(xcache(await get200(app, url))).toBe('HIT-L1');

    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'Without stock, renamed' WHERE id = $1`, [id]);
    await settle(app);
    const res = await get200(app, url);
    expect(xcache(res)).toBe('MISS');
    expect(json(res).updatedAt).not.toBe(before.updatedAt);
  });

  it('a stock change refills the availability only', async () => {
    const app = suite.bff;
    const { a1 } = suite.seeded;
    await warm();
    expectStatus(await call(app, 'PUT', `/catalog/products/${a1.id}/stock`, { quantity: 99 }), 200);
    expect(await statuses()).toEqual({
      categories: 'HIT-L1',
      listingA: 'HIT-L1',
      listingB: 'HIT-L1',
      productA1: 'HIT-L1',
      availabilityA1: 'MISS',
    });
    expect(json(await get200(app, views().availabilityA1)).quantity).toBe(99);
  });

  it('deactivating and reactivating a product changes productCount: categories and its listing are refilled', async () => {
    const app = suite.bff;
    const { a2, slugA, categoryA } = suite.seeded;
    await warm();
    const count = await countOf(categoryA);
    expectStatus(await call(app, 'PATCH', `/catalog/products/${a2.id}`, { active: false }), 200);
    expect(await statuses()).toMatchObject({ categories: 'MISS', listingA: 'MISS', listingB: 'HIT-L1' });
    expect(await countOf(categoryA)).toBe(count - 1);
    expect(await idsIn(slugA)).not.toContain(a2.id);

    // An inactive product is in no listing's dependency set: its category's set brings it back.
    await warm();
    expectStatus(await call(app, 'PATCH', `/catalog/products/${a2.id}`, { active: true }), 200);
    expect(await statuses()).toMatchObject({ categories: 'MISS', listingA: 'MISS', listingB: 'HIT-L1' });
    expect(await countOf(categoryA)).toBe(count);
    expect(await idsIn(slugA)).toContain(a2.id);
  });

  it('moving a product refills both listings and the categories list', async () => {
    const app = suite.bff;
    const { a2, slugA, slugB, categoryA, categoryB } = suite.seeded;
    await warm();
    const [countA, countB] = [await countOf(categoryA), await countOf(categoryB)];
    expectStatus(await call(app, 'PATCH', `/catalog/products/${a2.id}`, { categoryId: categoryB }), 200);
    expect(await statuses()).toMatchObject({
      categories: 'MISS',
      listingA: 'MISS',
      listingB: 'MISS',
      productA1: 'HIT-L1',
    });
    expect([await countOf(categoryA), await countOf(categoryB)]).toEqual([countA - 1, countB + 1]);
    expect(await idsIn(slugA)).not.toContain(a2.id);
    expect(await idsIn(slugB)).toContain(a2.id);
    expectStatus(await call(app, 'PATCH', `/catalog/products/${a2.id}`, { categoryId: categoryA }), 200);
  });

  it("inserting and deleting a product in B refills B's listing and the categories list, not A's listing", async () => {
    const app = suite.bff;
    const { slugB, categoryB } = suite.seeded;
    await warm();
    const countB = await countOf(categoryB);
    const added = await createProduct(app, categoryB, { name: 'B added' });
    expect(await statuses()).toMatchObject({
      categories: 'MISS',
      listingA: 'HIT-L1',
      listingB: 'MISS',
      productA1: 'HIT-L1',
    });
    expect(await countOf(categoryB)).toBe(countB + 1);
    expect(await idsIn(slugB)).toContain(added.id);

    await get200(app, `/catalog/products/${added.id}`);
    await warm();
    expectStatus(await call(app, 'DELETE', `/catalog/products/${added.id}`), 204);
    expect(await statuses()).toMatchObject({
      categories: 'MISS',
      listingA: 'HIT-L1',
      listingB: 'MISS',
      productA1: 'HIT-L1',
    });
    expect(await countOf(categoryB)).toBe(countB);
    expect(await idsIn(slugB)).not.toContain(added.id);
    expect((await call(app, 'GET', `/catalog/products/${added.id}`)).statusCode).toBe(404);
  });

  it("a product change in A with a plain description edit leaves B's listing cached", async () => {
    const app = suite.bff;
    const { a2 } = suite.seeded;
    await warm();
    expectStatus(await call(app, 'PATCH', `/catalog/products/${a2.id}`, { description: 'edited' }), 200);
    expect(await statuses()).toEqual({
      categories: 'HIT-L1',
      listingA: 'MISS',
      listingB: 'HIT-L1',
      productA1: 'HIT-L1',
      availabilityA1: 'HIT-L1',
    });
  });

  it('renaming a category refills the categories list and its own listing', async () => {
    const app = suite.bff;
    const { categoryB } = suite.seeded;
    await warm();
    expectStatus(await call(app, 'PATCH', `/catalog/categories/${categoryB}`, { name: 'B renamed' }), 200);
    expect(await statuses()).toEqual({
      categories: 'MISS',
      listingA: 'HIT-L1',
      listingB: 'MISS',
      productA1: 'HIT-L1',
      availabilityA1: 'HIT-L1',
    });
    expect(json(await get200(app, views().listingB)).category.name).toBe('B renamed');
  });
});
