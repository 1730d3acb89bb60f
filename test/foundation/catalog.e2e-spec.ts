import { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  AVAILABILITY_FIELDS,
  CATEGORY_SUMMARY_FIELDS,
  countRows,
  createCategory,
  createCategoryWithProduct,
  createProduct,
  errorOf,
  expectStatus,
  FOUNDATION_ENV,
  ISO_TIMESTAMP_PATTERN,
  keysOf,
  PRODUCT_FIELDS,
  productBody,
  snapshotDatabase,
  sorted,
  stockOf,
  tag,
  UNKNOWN_ID,
  UUID_PATTERN,
} from '../harness/fixtures';
import { waitForCdc } from '../harness/cdc';
import { call, json } from '../harness/http';
import { useTestContext } from '../harness/test-context';

describe('catalog REST API (docs/contract.md §3)', () => {
  const ctx = useTestContext();
  let app: NestFastifyApplication;

  beforeAll(async () => {
    app = await ctx().startBff(FOUNDATION_ENV);
  });

  describe('categories', () => {
    it('POST /catalog/categories answers 201 with the stored category', async () => {
      const t = tag();
      const res = await call(app, 'POST', '/catalog/categories', { slug: `herbal-${t}`, name: `Herbal ${t}` });
      expectStatus(res, 201);
      const body = json(res);
      expect(body).toMatchObject({ slug: `herbal-${t}`, name: `Herbal ${t}` });
      expect(body.id).toMatch(UUID_PATTERN);
      const { rows } = await ctx().sql.query('SELECT slug, name FROM catalog.categories WHERE id = $1', [body.id]);
      expect(rows).toEqual([{ slug: `herbal-${t}`, name: `Herbal ${t}` }]);
    });

    it('GET /catalog/categories lists exactly {id, slug, name, productCount} sorted by name, counting active products only', async () => {
      const t = tag();
      // Created out of name order; names share their case so any collation sorts them the same way.
      const charlie = await createCategory(app, { slug: `charlie-${t}`, name: `Charlie ${t}` });
      const alpha = await createCategory(app, { slug: `alpha-${t}`, name: `Alpha ${t}` });
      const bravo = await createCategory(app, { slug: `bravo-${t}`, name: `Bravo ${t}` });
      await createProduct(app, alpha.id);
      await createProduct(app, alpha.id);
      await createProduct(app, alpha.id, { active: false });
      await createProduct(app, charlie.id, { active: false });
      await createProduct(app, bravo.id);

      // The list is a shared view an earlier test may have cached: it is fresh once the writes' CDC events are processed.
      await waitForCdc(app);
      const res = await call(app, 'GET', '/catalog/categories');
      expectStatus(res, 200);
      const list: any[] = json(res);
      for (const item of list) expect(keysOf(item)).toEqual(sorted(CATEGORY_SUMMARY_FIELDS));
      const mine = list.filter((c) => [alpha.id, bravo.id, charlie.id].includes(c.id));
      expect(mine).toEqual([
        { id: alpha.id, slug: `alpha-${t}`, name: `Alpha ${t}`, productCount: 2 },
        { id: bravo.id, slug: `bravo-${t}`, name: `Bravo ${t}`, productCount: 1 },
        { id: charlie.id, slug: `charlie-${t}`, name: `Charlie ${t}`, productCount: 0 },
      ]);
      // The whole list is in name order (the database's collation), not just the rows of this test.
      const { rows } = await ctx().sql.query<{ id: string }>('SELECT id FROM catalog.categories ORDER BY name, id');
      expect(list.map((c) => c.id)).toEqual(rows.map((r) => r.id));
    });

    it('productCount follows activation, deactivation and deletion of products', async () => {
      const category = await createCategory(app);
      const a = await createProduct(app, category.id);
      const b = await createProduct(app, category.id);
      // The list is read, then changed: each read once the write's CDC event is processed must show it.
      const expectCount = async (n: number) => {
        await waitForCdc(app);
        expect(
          json(await call(app, 'GET', '/catalog/categories')).find((c: any) => c.id === category.id).productCount,
        ).toBe(n);
      };
      await expectCount(2);
      expectStatus(await call(app, 'PATCH', `/catalog/products/${a.id}`, { active: false }), 200);
      await expectCount(1);
      expectStatus(await call(app, 'DELETE', `/catalog/products/${b.id}`), 204);
      await expectCount(0);
      expectStatus(await call(app, 'PATCH', `/catalog/products/${a.id}`, { active: true }), 200);
      await expectCount(1);
    });

    it('PATCH /catalog/categories/:id renames and re-slugs; the listing moves to the new slug', async () => {
      const { category, product } = await createCategoryWithProduct(app);
      const t = tag();
      const renamed = await call(app, 'PATCH', `/catalog/categories/${category.id}`, { name: `Renamed ${t}` });
      expectStatus(renamed, 200);
      expect(json(renamed)).toMatchObject({ id: category.id, slug: category.slug, name: `Renamed ${t}` });

      const reslugged = await call(app, 'PATCH', `/catalog/categories/${category.id}`, { slug: `moved-${t}` });
      expectStatus(reslugged, 200);
      expect(json(reslugged)).toMatchObject({ id: category.id, slug: `moved-${t}`, name: `Renamed ${t}` });

      expectStatus(await call(app, 'GET', `/catalog/categories/${category.slug}/products`), 404);
      const listing = await call(app, 'GET', `/catalog/categories/moved-${t}/products`);
      expectStatus(listing, 200);
      expect(json(listing).products.map((p: any) => p.id)).toEqual([product.id]);
      const { rows } = await ctx().sql.query('SELECT slug, name FROM catalog.categories WHERE id = $1', [category.id]);
      expect(rows).toEqual([{ slug: `moved-${t}`, name: `Renamed ${t}` }]);
    });

    it('PATCH keeping its own slug is not a conflict', async () => {
      const category = await createCategory(app);
      const res = await call(app, 'PATCH', `/catalog/categories/${category.id}`, {
        slug: category.slug,
        name: 'Same Slug',
      });
      expectStatus(res, 200);
      expect(json(res)).toMatchObject({ slug: category.slug, name: 'Same Slug' });
    });

    it('a duplicate slug is 409 on POST and PATCH, naming slug, and writes nothing', async () => {
      const taken = await createCategory(app);
      const other = await createCategory(app);
      const before = await snapshotDatabase(ctx().sql);

      const dupPost = await call(app, 'POST', '/catalog/categories', { slug: taken.slug, name: 'Another' });
      expectStatus(dupPost, 409);
      expect(errorOf(dupPost).message).toMatch(/slug/);

      const dupPatch = await call(app, 'PATCH', `/catalog/categories/${other.id}`, { slug: taken.slug });
      expectStatus(dupPatch, 409);
      expect(errorOf(dupPatch).message).toMatch(/slug/);

      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it('PATCH of an unknown category is 404; GET of an unknown slug is 404', async () => {
      const patch = await call(app, 'PATCH', `/catalog/categories/${UNKNOWN_ID}`, { name: 'Nobody' });
      expectStatus(patch, 404);
      expect(errorOf(patch)).toMatchObject({ statusCode: 404, error: 'Not Found' });
      expectStatus(await call(app, 'GET', `/catalog/categories/no-such-${tag()}/products`), 404);
    });
  });

  describe('category listing', () => {
    it('GET /catalog/categories/:slug/products answers {category, products} with active products sorted by name', async () => {
      const category = await createCategory(app);
      const zulu = await createProduct(app, category.id, { name: 'Zulu Tea' });
      const alpha = await createProduct(app, category.id, { name: 'Alpha Tea', description: 'first' });
      await createProduct(app, category.id, { name: 'Mike Tea', active: false });
      const mike = await createProduct(app, category.id, { name: 'Mike Tea Two' });
      // A product of another category never shows up here.
      await createCategoryWithProduct(app, { name: 'Alpha Other' });

      const res = await call(app, 'GET', `/catalog/categories/${category.slug}/products`);
      expectStatus(res, 200);
      const body = json(res);
      expect(keysOf(body)).toEqual(['category', 'products']);
      expect(body.category).toMatchObject({ id: category.id, slug: category.slug, name: category.name });
      expect(body.products).toEqual([alpha, mike, zulu]);
      for (const p of body.products) expect(keysOf(p)).toEqual(sorted(PRODUCT_FIELDS));
    });

    it('an empty category lists no products', async () => {
      const category = await createCategory(app);
      const res = await call(app, 'GET', `/catalog/categories/${category.slug}/products`);
      expectStatus(res, 200);
      expect(json(res).products).toEqual([]);
    });
  });

  describe('products', () => {
    it('POST /catalog/products answers 201 with exactly the product fields and creates a stock row', async () => {
      const category = await createCategory(app);
      const t = tag().toUpperCase();
      const res = await call(app, 'POST', '/catalog/products', {
        sku: `GREEN-${t}`,
        name: 'Green Tea',
        description: 'Steamed, not roasted.',
        priceCents: 1999,
        currency: 'EUR',
        categoryId: category.id,
        stock: 7,
      });
      expectStatus(res, 201);
      const product = json(res);
      expect(keysOf(product)).toEqual(sorted(PRODUCT_FIELDS));
      expect(product).toEqual({
        id: expect.stringMatching(UUID_PATTERN),
        sku: `GREEN-${t}`,
        name: 'Green Tea',
        description: 'Steamed, not roasted.',
        priceCents: 1999,
        currency: 'EUR',
        categoryId: category.id,
        active: true,
        version: 1,
        updatedAt: expect.stringMatching(ISO_TIMESTAMP_PATTERN),
      });
      expect(await stockOf(ctx().sql, product.id)).toBe(7);
    });

    it('POST without stock, description or active creates stock 0, an empty description and an active product', async () => {
      const category = await createCategory(app);
      const body = productBody(category.id);
      const res = await call(app, 'POST', '/catalog/products', body);
      expectStatus(res, 201);
      const product = json(res);
      expect(product).toMatchObject({ description: '', active: true, version: 1 });
      expect(await stockOf(ctx().sql, product.id)).toBe(0);
      const availability = json(await call(app, 'GET', `/catalog/products/${product.id}/availability`));
      expect(availability).toMatchObject({ productId: product.id, quantity: 0, inStock: false });
    });

    it('GET /catalog/products/:id answers the product, inactive ones included', async () => {
      const { category } = await createCategoryWithProduct(app);
      const inactive = await createProduct(app, category.id, { active: false });
      const res = await call(app, 'GET', `/catalog/products/${inactive.id}`);
      expectStatus(res, 200);
      expect(json(res)).toEqual(inactive);
      expect(json(res).active).toBe(false);
    });

    it('GET accepts an upper-case UUID and answers the canonical lower-case id', async () => {
      const { product } = await createCategoryWithProduct(app);
      const res = await call(app, 'GET', `/catalog/products/${product.id.toUpperCase()}`);
      expectStatus(res, 200);
      expect(json(res)).toEqual(product);
    });

    it('GET /catalog/products/:id/availability answers exactly {productId, quantity, inStock, updatedAt}', async () => {
      const { product } = await createCategoryWithProduct(app, { stock: 3 });
      const res = await call(app, 'GET', `/catalog/products/${product.id}/availability`);
      expectStatus(res, 200);
      const body = json(res);
      expect(keysOf(body)).toEqual(sorted(AVAILABILITY_FIELDS));
      expect(body).toEqual({
        productId: product.id,
        quantity: 3,
        inStock: true,
        updatedAt: expect.stringMatching(ISO_TIMESTAMP_PATTERN),
      });
    });

    it('PUT /catalog/products/:id/stock sets the quantity and answers the availability', async () => {
      const { product } = await createCategoryWithProduct(app, { stock: 3 });
      const res = await call(app, 'PUT', `/catalog/products/${product.id}/stock`, { quantity: 42 });
      expectStatus(res, 200);
      expect(json(res)).toEqual({
        productId: product.id,
        quantity: 42,
        inStock: true,
        updatedAt: expect.stringMatching(ISO_TIMESTAMP_PATTERN),
      });
      expect(await stockOf(ctx().sql, product.id)).toBe(42);

      const zero = await call(app, 'PUT', `/catalog/products/${product.id}/stock`, { quantity: 0 });
      expectStatus(zero, 200);
      expect(json(zero)).toMatchObject({ quantity: 0, inStock: false });
      expect(json(await call(app, 'GET', `/catalog/products/${product.id}/availability`))).toMatchObject({
        quantity: 0,
        inStock: false,
      });
    });

    it('PUT /catalog/products/:id replaces every field and bumps the version', async () => {
      const { category, product } = await createCategoryWithProduct(app, { description: 'old text', active: false });
      const target = await createCategory(app);
      const t = tag().toUpperCase();
      const res = await call(app, 'PUT', `/catalog/products/${product.id}`, {
        sku: `NEW-${t}`,
        name: 'Replaced',
        priceCents: 0,
        currency: 'USD',
        categoryId: target.id,
      });
      expectStatus(res, 200);
      const replaced = json(res);
      expect(keysOf(replaced)).toEqual(sorted(PRODUCT_FIELDS));
      // Omitted optional fields are reset: description to empty, active to true.
      expect(replaced).toEqual({
        ...product,
        sku: `NEW-${t}`,
        name: 'Replaced',
        description: '',
        priceCents: 0,
        currency: 'USD',
        categoryId: target.id,
        active: true,
        version: product.version + 1,
        updatedAt: expect.stringMatching(ISO_TIMESTAMP_PATTERN),
      });
      expect(Date.parse(replaced.updatedAt)).toBeGreaterThanOrEqual(Date.parse(product.updatedAt));
      expect(json(await call(app, 'GET', `/catalog/products/${product.id}`))).toEqual(replaced);
      // It left the old category's listing and joined the new one.
      expect(json(await call(app, 'GET', `/catalog/categories/${category.slug}/products`)).products).toEqual([]);
      expect(json(await call(app, 'GET', `/catalog/categories/${target.slug}/products`)).products).toEqual([replaced]);
    });

    it('PUT keeping its own sku is not a conflict', async () => {
      const { product } = await createCategoryWithProduct(app);
      const { id, version, updatedAt: _updatedAt, ...fields } = product;
      const res = await call(app, 'PUT', `/catalog/products/${id}`, { ...fields, name: 'Same Sku' });
      expectStatus(res, 200);
      expect(json(res)).toMatchObject({ sku: product.sku, name: 'Same Sku', version: version + 1 });
    });

    it('PATCH /catalog/products/:id changes only the given fields, and the version increases on every update', async () => {
      const { product } = await createCategoryWithProduct(app, { description: 'keep me' });
      const first = await call(app, 'PATCH', `/catalog/products/${product.id}`, { priceCents: 2500 });
      expectStatus(first, 200);
      expect(json(first)).toEqual({
        ...product,
        priceCents: 2500,
        version: 2,
        updatedAt: expect.stringMatching(ISO_TIMESTAMP_PATTERN),
      });

      const second = await call(app, 'PATCH', `/catalog/products/${product.id}`, { name: 'Renamed', active: false });
      expectStatus(second, 200);
      expect(json(second)).toMatchObject({
        name: 'Renamed',
        active: false,
        priceCents: 2500,
        description: 'keep me',
        version: 3,
      });

      const third = await call(app, 'PATCH', `/catalog/products/${product.id}`, { description: '' });
      expectStatus(third, 200);
      expect(json(third)).toMatchObject({ description: '', version: 4 });

      const stored = json(await call(app, 'GET', `/catalog/products/${product.id}`));
      expect(stored).toEqual(json(third));
      const { rows } = await ctx().sql.query(
        'SELECT version, price_cents, name, active FROM catalog.products WHERE id = $1',
        [product.id],
      );
      expect(rows).toEqual([{ version: 4, price_cents: 2500, name: 'Renamed', active: false }]);
    });

    it('DELETE /catalog/products/:id answers 204 with no body, removes the product and its stock; a second DELETE is 404', async () => {
      const { category, product } = await createCategoryWithProduct(app);
      const res = await call(app, 'DELETE', `/catalog/products/${product.id}`);
      expectStatus(res, 204);
      expect(res.body).toBe('');
      expectStatus(await call(app, 'GET', `/catalog/products/${product.id}`), 404);
      expectStatus(await call(app, 'GET', `/catalog/products/${product.id}/availability`), 404);
      expect(await countRows(ctx().sql, 'catalog.products', 'id = $1', [product.id])).toBe(0);
      expect(await stockOf(ctx().sql, product.id)).toBeNull();
      expect(json(await call(app, 'GET', `/catalog/categories/${category.slug}/products`)).products).toEqual([]);
      expectStatus(await call(app, 'DELETE', `/catalog/products/${product.id}`), 404);
    });

    it('a duplicate sku is 409 on POST, PUT and PATCH, naming sku, and writes nothing', async () => {
      const { category, product: taken } = await createCategoryWithProduct(app);
      const other = await createProduct(app, category.id);
      const before = await snapshotDatabase(ctx().sql);

      const post = await call(app, 'POST', '/catalog/products', productBody(category.id, { sku: taken.sku, stock: 5 }));
      expectStatus(post, 409);
      expect(errorOf(post).message).toMatch(/sku/);

      const put = await call(app, 'PUT', `/catalog/products/${other.id}`, productBody(category.id, { sku: taken.sku }));
      expectStatus(put, 409);
      expect(errorOf(put).message).toMatch(/sku/);

      const patch = await call(app, 'PATCH', `/catalog/products/${other.id}`, { sku: taken.sku });
      expectStatus(patch, 409);
      expect(errorOf(patch).message).toMatch(/sku/);

      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it('an unknown categoryId is 422 on POST, PUT and PATCH, naming categoryId, and writes nothing', async () => {
      const { product } = await createCategoryWithProduct(app);
      const before = await snapshotDatabase(ctx().sql);

      const post = await call(app, 'POST', '/catalog/products', productBody(UNKNOWN_ID));
      expectStatus(post, 422);
      expect(errorOf(post)).toMatchObject({ statusCode: 422, error: 'Unprocessable Entity' });
      expect(errorOf(post).message).toMatch(/categoryId/);

      const put = await call(app, 'PUT', `/catalog/products/${product.id}`, productBody(UNKNOWN_ID));
      expectStatus(put, 422);
      expect(errorOf(put).message).toMatch(/categoryId/);

      const patch = await call(app, 'PATCH', `/catalog/products/${product.id}`, { categoryId: UNKNOWN_ID });
      expectStatus(patch, 422);
      expect(errorOf(patch).message).toMatch(/categoryId/);

      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it.each([
      ['GET', ''],
      ['GET', '/availability'],
      ['PUT', ''],
      ['PATCH', ''],
      ['PUT', '/stock'],
      ['DELETE', ''],
    ] as const)('%s /catalog/products/<unknown id>%s is 404', async (method, suffix) => {
      const category = await createCategory(app);
      const body =
        method === 'PUT' && suffix === '/stock'
          ? { quantity: 1 }
          : method === 'GET' || method === 'DELETE'
            ? undefined
            : productBody(category.id);
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(app, method, `/catalog/products/${UNKNOWN_ID}${suffix}`, body);
      expectStatus(res, 404);
      expect(errorOf(res)).toMatchObject({ statusCode: 404, error: 'Not Found' });
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });
  });

  describe('400 for invalid input, with a message naming the field', () => {
    let categoryId: string;
    let productId: string;
    beforeAll(async () => {
      const { category, product } = await createCategoryWithProduct(app);
      categoryId = category.id;
      productId = product.id;
    });

    const productCases: [string, Record<string, unknown>, RegExp][] = [
      ['priceCents as a string', { priceCents: '12' }, /priceCents/],
      ['priceCents negative', { priceCents: -1 }, /priceCents/],
      ['priceCents fractional', { priceCents: 12.5 }, /priceCents/],
      ['priceCents beyond int32', { priceCents: 2_147_483_648 }, /priceCents/],
      ['sku in lower case', { sku: 'lower-case' }, /sku/],
      ['sku too long', { sku: 'A'.repeat(65) }, /sku/],
      ['sku as a number', { sku: 123 }, /sku/],
      ['empty name', { name: '' }, /name/],
      ['name over 200 characters', { name: 'n'.repeat(201) }, /name/],
      ['description over 5000 characters', { description: 'd'.repeat(5001) }, /description/],
      ['description null', { description: null }, /description/],
      ['unknown currency', { currency: 'ABC' }, /currency/],
      ['lower-case currency', { currency: 'eur' }, /currency/],
      ['categoryId not a UUID', { categoryId: 'not-a-uuid' }, /categoryId/],
      ['active as a string', { active: 'true' }, /active/],
      ['stock negative', { stock: -5 }, /stock/],
      ['stock as a string', { stock: '5' }, /stock/],
      ['stock null', { stock: null }, /stock/],
      ['an unknown field', { colour: 'green' }, /colour/],
      ['a NUL character', { name: 'Green\u0000Tea' }, /name/],
    ];

    it.each(productCases)('POST /catalog/products with %s', async (_label, fields, field) => {
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(app, 'POST', '/catalog/products', productBody(categoryId, fields));
      expectStatus(res, 400);
      expect(errorOf(res)).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(errorOf(res).message).toMatch(field);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it.each(productCases.filter(([label]) => !label.startsWith('stock')))(
      'PUT /catalog/products/:id with %s',
      async (_label, fields, field) => {
        const before = await snapshotDatabase(ctx().sql);
        const res = await call(app, 'PUT', `/catalog/products/${productId}`, productBody(categoryId, fields));
        expectStatus(res, 400);
        expect(errorOf(res).message).toMatch(field);
        expect(await snapshotDatabase(ctx().sql)).toEqual(before);
      },
    );

    it.each([
      ...productCases.filter(([label]) => !label.startsWith('stock')),
      ['name null', { name: null }, /name/],
      ['priceCents null', { priceCents: null }, /priceCents/],
      ['active null', { active: null }, /active/],
      ['stock (not a product field on PATCH)', { stock: 5 }, /stock/],
    ] as [string, Record<string, unknown>, RegExp][])(
      'PATCH /catalog/products/:id with %s',
      async (_label, fields, field) => {
        const before = await snapshotDatabase(ctx().sql);
        const res = await call(app, 'PATCH', `/catalog/products/${productId}`, fields);
        expectStatus(res, 400);
        expect(errorOf(res).message).toMatch(field);
        expect(await snapshotDatabase(ctx().sql)).toEqual(before);
      },
    );

    it('PUT without a required field names it', async () => {
      const { priceCents: _omitted, ...withoutPrice } = productBody(categoryId);
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(app, 'PUT', `/catalog/products/${productId}`, withoutPrice);
      expectStatus(res, 400);
      expect(errorOf(res).message).toMatch(/priceCents/);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it.each([
      ['a string quantity', { quantity: '5' }, /quantity/],
      ['a negative quantity', { quantity: -1 }, /quantity/],
      ['a fractional quantity', { quantity: 1.5 }, /quantity/],
      ['no quantity', {}, /quantity/],
      ['an unknown field', { quantity: 1, reason: 'audit' }, /reason/],
    ])('PUT /catalog/products/:id/stock with %s', async (_label, body, field) => {
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(app, 'PUT', `/catalog/products/${productId}/stock`, body);
      expectStatus(res, 400);
      expect(errorOf(res).message).toMatch(field);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it.each([
      ['POST', '/catalog/categories', { slug: 'Upper-Case', name: 'X' }, /slug/],
      ['POST', '/catalog/categories', { slug: 'has space', name: 'X' }, /slug/],
      ['POST', '/catalog/categories', { slug: 's'.repeat(65), name: 'X' }, /slug/],
      ['POST', '/catalog/categories', { slug: 'ok-slug', name: '' }, /name/],
      ['POST', '/catalog/categories', { slug: 'ok-slug', name: 7 }, /name/],
      ['POST', '/catalog/categories', { slug: 'ok-slug' }, /name/],
      ['POST', '/catalog/categories', { slug: 'ok-slug', name: 'X', extra: 1 }, /extra/],
      ['PATCH', '/catalog/categories/:id', { slug: null }, /slug/],
      ['PATCH', '/catalog/categories/:id', { name: 'n'.repeat(201) }, /name/],
      ['PATCH', '/catalog/categories/:id', { id: '5bd7f6a4-f4a5-4f0e-9a3b-3a3a3a3a3a3a' }, /id/],
    ] as const)('%s %s with %j', async (method, path, body, field) => {
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(app, method, path.replace(':id', categoryId), body);
      expectStatus(res, 400);
      expect(errorOf(res).message).toMatch(field);
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it.each([
      ['GET', '/catalog/products/not-a-uuid'],
      ['GET', '/catalog/products/12345/availability'],
      ['PATCH', '/catalog/products/00000000-0000-0000-0000-00000000000g'],
      ['PUT', '/catalog/products/abc/stock'],
      ['DELETE', '/catalog/products/1'],
      ['PATCH', '/catalog/categories/not-a-uuid'],
      ['GET', '/catalog/categories/Not_A_Slug/products'],
    ] as const)('%s %s (a path id that breaks its pattern) names the parameter', async (method, url) => {
      // A valid body, so the path is the only thing wrong (params and body are validated concurrently).
      const body = method === 'PUT' ? { quantity: 1 } : method === 'PATCH' ? { name: 'X' } : undefined;
      const res = await call(app, method, url, body);
      expectStatus(res, 400);
      expect(errorOf(res).message).toMatch(url.includes('/categories/N') ? /slug/ : /\bid\b/);
    });

    it('malformed JSON is 400', async () => {
      const res = await call(app, 'POST', '/catalog/products', '{"sku": "A-1", "name": ', {
        'content-type': 'application/json',
      });
      expectStatus(res, 400);
      expect(errorOf(res).message).toMatch(/JSON/);
    });

    it('a body over 100 KiB is 413, even with a valid shape', async () => {
      const before = await snapshotDatabase(ctx().sql);
      const res = await call(
        app,
        'POST',
        '/catalog/products',
        productBody(categoryId, { description: 'x'.repeat(101 * 1024) }),
      );
      expectStatus(res, 413);
      expect(errorOf(res)).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
      expect(await snapshotDatabase(ctx().sql)).toEqual(before);
    });

    it('a body just under 100 KiB is parsed (and then judged by validation)', async () => {
      // 5000 characters is the description limit, so this passes the size check and fails on description.
      const res = await call(
        app,
        'POST',
        '/catalog/products',
        productBody(categoryId, { description: 'x'.repeat(99 * 1024) }),
      );
      expectStatus(res, 400);
      expect(errorOf(res).message).toMatch(/description/);
    });
  });

  describe('writes made with plain SQL are visible through the API', () => {
    // Each view is read (cached) first. The CDC pipeline drops it a few milliseconds after the SQL commit;
    // once the event is processed (waitForCdc) every read has to show the new state (docs/contract.md §9.1).
    const get = (url: string) => call(app, 'GET', url);

    it('an UPDATE of a product shows its new name and a bumped version', async () => {
      const { product } = await createCategoryWithProduct(app);
      await waitForCdc(app);
      expectStatus(await get(`/catalog/products/${product.id}`), 200);
      await ctx().sql.query(`UPDATE catalog.products SET name = 'Renamed By SQL' WHERE id = $1`, [product.id]);
      await waitForCdc(app);
      const res = await get(`/catalog/products/${product.id}`);
      expectStatus(res, 200);
      const body = json(res);
      expect(body).toEqual({
        ...product,
        name: 'Renamed By SQL',
        version: product.version + 1,
        updatedAt: expect.stringMatching(ISO_TIMESTAMP_PATTERN),
      });
      expect(Date.parse(body.updatedAt)).toBeGreaterThan(Date.parse(product.updatedAt));
    });

    it('an UPDATE of stock shows in the availability', async () => {
      const { product } = await createCategoryWithProduct(app, { stock: 2 });
      await waitForCdc(app);
      expect(json(await get(`/catalog/products/${product.id}/availability`))).toMatchObject({ quantity: 2 });
      await ctx().sql.query('UPDATE catalog.stock_levels SET quantity = 99 WHERE product_id = $1', [product.id]);
      await waitForCdc(app);
      expect(json(await get(`/catalog/products/${product.id}/availability`))).toMatchObject({
        quantity: 99,
        inStock: true,
      });
    });

    it('an INSERTed category and product show in the list and the listing; a product without a stock row has quantity 0', async () => {
      const t = tag();
      await waitForCdc(app);
      expectStatus(await get('/catalog/categories'), 200);
      const {
        rows: [category],
      } = await ctx().sql.query(`INSERT INTO catalog.categories (slug, name) VALUES ($1, $2) RETURNING id`, [
        `sql-${t}`,
        `Sql ${t}`,
      ]);
      const {
        rows: [product],
      } = await ctx().sql.query(
        `INSERT INTO catalog.products (sku, name, price_cents, currency, category_id) VALUES ($1, 'From SQL', 500, 'EUR', $2) RETURNING id`,
        [`SQL-${t.toUpperCase()}`, category.id],
      );
      await waitForCdc(app);
      const list = json(await get('/catalog/categories'));
      expect(list.find((c: any) => c.id === category.id)).toEqual({
        id: category.id,
        slug: `sql-${t}`,
        name: `Sql ${t}`,
        productCount: 1,
      });
      expect(json(await get(`/catalog/categories/sql-${t}/products`)).products).toEqual([
        {
          id: product.id,
          sku: `SQL-${t.toUpperCase()}`,
          name: 'From SQL',
          description: '',
          priceCents: 500,
          currency: 'EUR',
          categoryId: category.id,
          active: true,
          version: 1,
          updatedAt: expect.stringMatching(ISO_TIMESTAMP_PATTERN),
        },
      ]);
      expect(json(await get(`/catalog/products/${product.id}/availability`))).toMatchObject({
        productId: product.id,
        quantity: 0,
        inStock: false,
      });
    });

    it('a deactivation by SQL removes the product from the listing and the count', async () => {
      const { category, product } = await createCategoryWithProduct(app);
      const other = await createProduct(app, category.id, { name: 'Stays Active' });
      await waitForCdc(app);
      for (const url of [
        `/catalog/categories/${category.slug}/products`,
        '/catalog/categories',
        `/catalog/products/${product.id}`,
      ]) {
        expectStatus(await get(url), 200);
      }
      await ctx().sql.query('UPDATE catalog.products SET active = false WHERE id = $1', [product.id]);
      await waitForCdc(app);
      expect(json(await get(`/catalog/categories/${category.slug}/products`)).products.map((p: any) => p.id)).toEqual([
        other.id,
      ]);
      expect(json(await get('/catalog/categories')).find((c: any) => c.id === category.id).productCount).toBe(1);
      expect(json(await get(`/catalog/products/${product.id}`))).toMatchObject({ active: false, version: 2 });
    });

    it('a DELETE by SQL makes the product 404 and removes it from the listing', async () => {
      const { category, product } = await createCategoryWithProduct(app);
      await waitForCdc(app);
      for (const url of [
        `/catalog/products/${product.id}`,
        `/catalog/products/${product.id}/availability`,
        `/catalog/categories/${category.slug}/products`,
      ]) {
        expectStatus(await get(url), 200);
      }
      await ctx().sql.query('DELETE FROM catalog.products WHERE id = $1', [product.id]);
      await waitForCdc(app);
      expectStatus(await get(`/catalog/products/${product.id}`), 404);
      expectStatus(await get(`/catalog/products/${product.id}/availability`), 404);
      expect(json(await get(`/catalog/categories/${category.slug}/products`)).products).toEqual([]);
    });
  });
});
