import { CdcStats } from '@app/cdc';
import { CDC_OFF, CDC_ON, waitForCdc } from '../harness/cdc';
import { call, json } from '../harness/http';
import { useSeededBff } from '../harness/seeded-bff';
import { appReader, expectViewsEqual, Reader, seedCatalog, SHIPPING, uniq, ViewRead, warm } from './support';

/**
 * docs/contract.md §1 (write path), §6, §9.1–9.2: a write made through the API and one made
 * with plain SQL both reach the cached views through the CDC pipeline.
 *
 * "Through CDC only": the writes go through a *writer* BFF whose cache lives
 * under another CACHE_KEY_PREFIX, so whatever its write path does to its own
 * cache cannot touch the reader's entries or the reader's L1 channel. The only
 * path from the writer's commit to the reader's cache is Postgres → outbox →
 * relay → stream → subscriber, all run by the reader (CDC_RELAY and
 * CDC_SUBSCRIBER on; the writer and the source run no CDC). Every check warms the views first (L2 and the reader's
 * L1), writes, waits for the lag to reach 0, and compares each cached view
 * with a cache-disabled BFF reading the same database.
 */
describe('CDC invalidation: API and plain-SQL writes reach every cached view through CDC', () => {
  const suite = useSeededBff({
    // The reader runs the pipeline and holds the cached views; the writer caches under a prefix of its own.
    instances: (ctx) => [CDC_ON, { ...CDC_OFF, CACHE_KEY_PREFIX: `${ctx.redisPrefix}writer:` }],
    truth: true,
    seed: ({ ctx }) => seedCatalog(ctx.sql, 2, 3),
  });
  const reader = () => suite.apps[0];
  const writer = () => suite.apps[1];
  /** Reads through the reader's cache. */
  const cached: Reader = (url) => appReader(reader())(url);
  /** Reads the database (the truth BFF). */
  const source: Reader = (url) => appReader(suite.truth)(url);

  /** An API write on the writer instance; fails on an unexpected status. */
  async function api(
    method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    status = method === 'POST' ? 201 : 200,
  ) {
    const res = await call(writer(), method, url, body);
    if (res.statusCode !== status) throw new Error(`${method} ${url} → ${res.statusCode}: ${res.body}`);
    return res.body ? json(res) : undefined;
  }

  const sql = (text: string, params: unknown[] = []) => suite.ctx.sql.query(text, params);

  /**
   * Warms `urls`, runs the write, waits for CDC, and answers the views before
   * and after (after = equal to the source, checked).
   */
  async function change(
    urls: string[],
    write: () => Promise<unknown>,
  ): Promise<{ before: Record<string, ViewRead>; after: Record<string, ViewRead> }> {
    await warm(cached, urls);
    const before: Record<string, ViewRead> = {};
    for (const url of urls) before[url] = await cached(url);
    const processed = reader().get(CdcStats).processed;
    await write();
    await waitForCdc(reader());
    expect(reader().get(CdcStats).processed).toBeGreaterThan(processed);
    const after = await expectViewsEqual(cached, source, urls);
    return { before, after };
  }

  const product = (i: number) => suite.seeded.products[i];
  const listing = (c: number) => `/catalog/categories/${suite.seeded.categories[c].slug}/products`;
  const productUrl = (i: number) => `/catalog/products/${product(i).id}`;
  const names = (read: ViewRead) =>
    (read.body as { products: { id: string; name: string }[] }).products.map((p) => p.name);
  const ids = (read: ViewRead) => (read.body as { products: { id: string }[] }).products.map((p) => p.id);
  const count = (read: ViewRead, c: number) =>
    (read.body as { id: string; productCount: number }[]).find((x) => x.id === suite.seeded.categories[c].id)
      ?.productCount;

  it.each([
    ['API PATCH', (id: string, name: string) => api('PATCH', `/catalog/products/${id}`, { name })],
    ['plain SQL', (id: string, name: string) => sql(`UPDATE catalog.products SET name = $2 WHERE id = $1`, [id, name])],
  ])('product detail and the listing holding it (%s); other views stay cached', async (_how, rename) => {
    const name = `Renamed ${uniq()}`;
    const urls = [productUrl(0), listing(0), listing(1), '/catalog/categories'];
    const { after } = await change(urls, () => rename(product(0).id, name));
    expect(after[productUrl(0)]).toMatchObject({ cache: 'MISS', body: { name } });
    expect(after[listing(0)].cache).toBe('MISS');
    expect(names(after[listing(0)])).toContain(name);
    // Granular (§9.5): the other category's listing and the categories list did not depend on the name.
    expect(after[listing(1)].cache).toBe('HIT-L1');
    expect(after['/catalog/categories'].cache).toBe('HIT-L1');
  });

  it.each([
    ['API PATCH', (id: string, categoryId: string) => api('PATCH', `/catalog/products/${id}`, { categoryId })],
    [
      'plain SQL',
      (id: string, categoryId: string) =>
        sql(`UPDATE catalog.products SET category_id = $2 WHERE id = $1`, [id, categoryId]),
    ],
  ])('a category move leaves one listing, enters the other and moves productCount (%s)', async (_how, move) => {
    const moving = product(1);
    const from = suite.seeded.categories.findIndex((c) => c.id === moving.categoryId);
    const to = 1 - from;
    const urls = [listing(0), listing(1), '/catalog/categories', productUrl(1)];
    const { before, after } = await change(urls, () => move(moving.id, suite.seeded.categories[to].id));
    moving.categoryId = suite.seeded.categories[to].id;
    expect(ids(before[listing(from)])).toContain(moving.id);
    expect(ids(after[listing(from)])).not.toContain(moving.id);
    expect(ids(before[listing(to)])).not.toContain(moving.id);
    expect(ids(after[listing(to)])).toContain(moving.id);
    expect(count(after['/catalog/categories'], from)).toBe(count(before['/catalog/categories'], from)! - 1);
    expect(count(after['/catalog/categories'], to)).toBe(count(before['/catalog/categories'], to)! + 1);
    expect(after[productUrl(1)]).toMatchObject({ cache: 'MISS', body: { categoryId: suite.seeded.categories[to].id } });
  });

  it('productCount and listings follow deactivation, inserts, deletes and category renames by any writer', async () => {
    const urls = [listing(0), listing(1), '/catalog/categories'];
    const c0 = suite.seeded.categories[0].id;
    const victim = suite.seeded.products.find((p) => p.categoryId === c0)!;

    // Deactivated by SQL: out of the listing and the count.
    let step = await change(urls, () => sql(`UPDATE catalog.products SET active = false WHERE id = $1`, [victim.id]));
    expect(ids(step.after[listing(0)])).not.toContain(victim.id);
    expect(count(step.after['/catalog/categories'], 0)).toBe(count(step.before['/catalog/categories'], 0)! - 1);

    // Inserted by SQL: there was nothing to invalidate for the row, but the list views that now include it are.
    step = await change(urls, () =>
      sql(
        `INSERT INTO catalog.products (sku, name, price_cents, currency, category_id) VALUES ($1, 'Aaa first', 5, 'EUR', $2)`,
        [`SQL-${uniq()}`.toUpperCase(), c0],
      ),
    );
    expect(names(step.after[listing(0)])[0]).toBe('Aaa first');
    expect(count(step.after['/catalog/categories'], 0)).toBe(count(step.before['/catalog/categories'], 0)! + 1);

    // Inserted through the API.
    step = await change(urls, () =>
      api('POST', '/catalog/products', {
        sku: `API-${uniq()}`.toUpperCase(),
        name: 'Aab second',
        priceCents: 7,
        currency: 'EUR',
        categoryId: c0,
        stock: 3,
      }),
    );
    expect(names(step.after[listing(0)])).toContain('Aab second');
    expect(count(step.after['/catalog/categories'], 0)).toBe(count(step.before['/catalog/categories'], 0)! + 1);

    // Deleted by SQL (its stock row goes by cascade): the cached 200 becomes a 404.
    const doomed = suite.seeded.products.find((p) => p.categoryId === c0 && p.id !== victim.id)!;
    step = await change(
      [...urls, `/catalog/products/${doomed.id}`, `/catalog/products/${doomed.id}/availability`],
      () => sql(`DELETE FROM catalog.products WHERE id = $1`, [doomed.id]),
    );
    suite.seeded.products = suite.seeded.products.filter((p) => p !== doomed);
    expect(step.before[`/catalog/products/${doomed.id}`].status).toBe(200);
    expect(step.after[`/catalog/products/${doomed.id}`].status).toBe(404);
    expect(step.after[`/catalog/products/${doomed.id}/availability`].status).toBe(404);
    expect(ids(step.after[listing(0)])).not.toContain(doomed.id);

    // Category renamed by SQL, then through the API: the categories list and its listing show the name.
    step = await change(urls, () =>
      sql(`UPDATE catalog.categories SET name = 'Zz renamed by sql' WHERE id = $1`, [c0]),
    );
    expect(step.after[listing(0)].body).toMatchObject({ category: { name: 'Zz renamed by sql' } });
    step = await change(urls, () => api('PATCH', `/catalog/categories/${c0}`, { name: 'Aa renamed by api' }));
    expect((step.after['/catalog/categories'].body as { name: string }[])[0].name).toBe('Aa renamed by api');
    expect(step.after[listing(1)].cache).toBe('HIT-L1');
  });

  it('availability follows stock changes by the API, by SQL, and by an order reserving stock', async () => {
    const p = product(2).id;
    const url = `/catalog/products/${p}/availability`;
    let step = await change([url], () => api('PUT', `/catalog/products/${p}/stock`, { quantity: 7 }));
    expect(step.after[url]).toMatchObject({ cache: 'MISS', body: { quantity: 7, inStock: true } });
    step = await change([url], () => sql(`UPDATE catalog.stock_levels SET quantity = 0 WHERE product_id = $1`, [p]));
    expect(step.after[url].body).toMatchObject({ quantity: 0, inStock: false });
    step = await change([url], () => sql(`UPDATE catalog.stock_levels SET quantity = 9 WHERE product_id = $1`, [p]));
    expect(step.after[url].body).toMatchObject({ quantity: 9, inStock: true });
    // The orders module reserves stock in its transaction: the stock_levels row change is an event too.
    step = await change([url], () =>
      api('POST', '/orders', {
        accountId: `acc-${uniq()}`,
        currency: 'EUR',
        customerEmail: 'a@example.com',
        shippingAddress: SHIPPING,
        items: [{ productId: p, quantity: 4 }],
      }),
    );
    expect(step.after[url].body).toMatchObject({ quantity: 5 });
  });

  it('account order summaries and order detail follow API and SQL writes, item rows included', async () => {
    const account = `acc-${uniq()}`;
    const summaries = `/accounts/${account}/orders`;
    const p = product(3).id;

    // Created through the API: the account's cached [] must go.
    let step = await change([summaries], () =>
      api('POST', '/orders', {
        accountId: account,
        currency: 'EUR',
        customerEmail: 'b@example.com',
        shippingAddress: SHIPPING,
        items: [{ productId: p, quantity: 1 }],
      }),
    );
    expect(step.before[summaries].body).toEqual([]);
    const [summary] = step.after[summaries].body as { id: string; itemCount: number; status: string }[];
    expect(summary).toMatchObject({ itemCount: 1, status: 'pending' });
    const order = `/orders/${summary.id}`;
    const views = [summaries, order];

    step = await change(views, () => api('PATCH', order, { status: 'paid' }));
    expect(step.after[order]).toMatchObject({ cache: 'MISS', body: { status: 'paid' } });
    expect(step.after[summaries].body).toMatchObject([{ status: 'paid' }]);

    // An item row changed by SQL raises the parent order's event.
    step = await change(views, () =>
      sql(`UPDATE orders.order_items SET quantity = 3 WHERE order_id = $1`, [summary.id]),
    );
    expect(step.after[order].body).toMatchObject({ items: [{ quantity: 3 }] });
    step = await change(views, () =>
      sql(
        `INSERT INTO orders.order_items (order_id, product_id, sku, name, quantity, unit_price_cents)
         VALUES ($1, $2, 'SQL-ITEM', 'Added by SQL', 2, 10)`,
        [summary.id, p],
      ),
    );
    expect(step.after[summaries].body).toMatchObject([{ itemCount: 2 }]);
    expect((step.after[order].body as { items: unknown[] }).items).toHaveLength(2);
    step = await change(views, () =>
      sql(`DELETE FROM orders.order_items WHERE order_id = $1 AND sku = 'SQL-ITEM'`, [summary.id]),
    );
    expect(step.after[summaries].body).toMatchObject([{ itemCount: 1 }]);

    step = await change(views, () => sql(`UPDATE orders.orders SET status = 'shipped' WHERE id = $1`, [summary.id]));
    expect(step.after[order].body).toMatchObject({ status: 'shipped' });

    // Moved to another account by SQL: both accounts' summaries change.
    const other = `acc-${uniq()}`;
    step = await change([...views, `/accounts/${other}/orders`], () =>
      sql(`UPDATE orders.orders SET account_id = $2 WHERE id = $1`, [summary.id, other]),
    );
    expect(step.after[summaries].body).toEqual([]);
    expect(step.after[`/accounts/${other}/orders`].body).toMatchObject([{ id: summary.id }]);

    // Deleted by SQL (items by cascade): detail 404, summaries empty.
    step = await change([`/accounts/${other}/orders`, order], () =>
      sql(`DELETE FROM orders.orders WHERE id = $1`, [summary.id]),
    );
    expect(step.after[order].status).toBe(404);
    expect(step.after[`/accounts/${other}/orders`].body).toEqual([]);
  });

  it('reports what it applied and the invalidation lag on /health/cdc', async () => {
    const health = async () => json(await call(reader(), 'GET', '/health/cdc'));
    await waitForCdc(reader());
    const before = (await health()).totals;
    // Changes of its own, so that what is counted does not depend on the tests that ran before.
    for (const n of [1, 2, 3]) {
      await sql(`UPDATE catalog.products SET name = $2 WHERE id = $1`, [product(0).id, `Reported ${n} ${uniq()}`]);
    }
    await waitForCdc(reader());
    const report = await health();
    expect(report.totals.processed - before.processed).toBe(3);
    expect(report.totals).toMatchObject({ failed: 0, deadLettered: 0 });
    expect(report.relay).toMatchObject({ backlog: 0, activeHere: true });
    const lag = report.invalidationLagMs;
    expect(lag.p50).toBeGreaterThanOrEqual(0);
    expect(lag.p50).toBeLessThanOrEqual(lag.p99);
    expect(lag.p99).toBeLessThanOrEqual(lag.max);
    if (process.env.CDC_TEST_VERBOSE)
      process.stderr.write(`invalidationLagMs (invalidation suite): ${JSON.stringify(lag)}\n`);
  });
});
