import type { OutboxRow } from '@app/cdc';
import Redis from 'ioredis';
import { Client, PoolClient } from 'pg';
import { CDC_ON, waitForCdc } from '../harness/cdc';
import { eventually } from '../../tools/eventually';
import { useSeededBff } from '../harness/seeded-bff';
import { rawRedis, readStream, StreamEvent, uniq } from './support';

/** cdc.outbox as the relay reads it, plus the column it sets. */
type PublishedOutboxRow = OutboxRow & { published_at: Date | null };

/**
 * docs/contract.md §6.1–6.2: what the capture triggers write (only for committed changes,
 * with the types and data the migration defines) and what the relay publishes
 * from it (the envelope, in capture order, without a high-water mark).
 */
describe('CDC capture: committed changes emit exactly their events', () => {
  const suite = useSeededBff({
    instances: [CDC_ON],
    seed: async ({ ctx }) => {
      const t = uniq();
      const category = async (slug: string, name: string): Promise<string> => {
        const sql = `INSERT INTO catalog.categories (slug, name) VALUES ($1, $2) RETURNING id`;
        return (await ctx.sql.query(sql, [slug, name])).rows[0].id;
      };
      return { categoryA: await category(`a-${t}`, 'A'), categoryB: await category(`b-${t}`, 'B') };
    },
  });
  let redis: Redis;

  beforeAll(() => {
    redis = rawRedis();
  });
  afterAll(() => redis.disconnect());

  const stream = (domain: string) => `${suite.ctx.redisPrefix}cdc.${domain}.v1`;

  async function mark(): Promise<number> {
    return Number((await suite.ctx.sql.query(`SELECT coalesce(max(id), 0) AS id FROM cdc.outbox`)).rows[0].id);
  }

  async function rowsAfter(id: number): Promise<PublishedOutboxRow[]> {
    const sql = `SELECT * FROM cdc.outbox WHERE id > $1 ORDER BY id`;
    return (await suite.ctx.sql.query<PublishedOutboxRow>(sql, [id])).rows;
  }

  /** Runs statements in one transaction on one connection; `commit` false rolls it back. */
  async function transaction(commit: boolean, body: (c: PoolClient) => Promise<void>): Promise<void> {
    const client = await suite.ctx.sql.connect();
    try {
      await client.query('BEGIN');
      await body(client);
      await client.query(commit ? 'COMMIT' : 'ROLLBACK');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  const summary = (r: OutboxRow) => ({
    type: r.type,
    aggregate: { type: r.aggregate_type, id: r.aggregate_id },
    source: r.source,
    data: r.data,
  });

  async function insertProduct(
    c: { query: PoolClient['query'] } = suite.ctx.sql,
    categoryId = suite.seeded.categoryA,
  ): Promise<string> {
    const { rows } = await c.query(
      `INSERT INTO catalog.products (sku, name, price_cents, currency, category_id) VALUES ($1, 'P', 1, 'EUR', $2) RETURNING id`,
      [`SKU-${uniq()}`.toUpperCase(), categoryId],
    );
    return rows[0].id;
  }

  it('a rolled-back transaction emits nothing: no outbox row, no NOTIFY, no stream entry', async () => {
    const { categoryB } = suite.seeded;
    const product = await insertProduct();
    await waitForCdc(suite.bff);
    const listener = new Client({ connectionString: suite.ctx.databaseUrl });
    await listener.connect();
    const notified: string[] = [];
    listener.on('notification', (n) => notified.push(n.payload ?? ''));
    await listener.query('LISTEN cachegate_cdc');
    try {
      const before = await mark();
      const lengths = [await redis.xlen(stream('catalog')), await redis.xlen(stream('orders'))];
      await transaction(false, async (c) => {
        await c.query(`UPDATE catalog.products SET name = 'never', active = false WHERE id = $1`, [product]);
        await c.query(`INSERT INTO catalog.stock_levels (product_id, quantity) VALUES ($1, 1)`, [product]);
        await c.query(`INSERT INTO catalog.categories (slug, name) VALUES ($1, 'never')`, [`n-${uniq()}`]);
        await c.query(
          `INSERT INTO orders.orders (account_id, currency, customer_email, shipping_address) VALUES ('never', 'EUR', 'x@example.com', '{}')`,
        );
        // Inside the transaction the rows exist: the triggers ran.
        expect(Number((await c.query(`SELECT count(*) FROM cdc.outbox WHERE id > $1`, [before])).rows[0].count)).toBe(
          4,
        );
      });
      // A savepoint rolled back inside a committed transaction: only the kept change is emitted.
      await transaction(true, async (c) => {
        await c.query('SAVEPOINT s');
        await c.query(`UPDATE catalog.products SET name = 'undone' WHERE id = $1`, [product]);
        await c.query('ROLLBACK TO SAVEPOINT s');
        await c.query(`UPDATE catalog.categories SET name = 'kept' WHERE id = $1`, [categoryB]);
      });
      const rows = await rowsAfter(before);
      expect(rows.map(summary)).toEqual([
        {
          type: 'catalog.category.updated',
          aggregate: { type: 'category', id: categoryB },
          source: 'postgres:catalog.categories',
          data: expect.any(Object),
        },
      ]);
      await waitForCdc(suite.bff);
      await eventually(() => notified.length >= 2, { timeoutMs: 5000, message: 'the NOTIFYs of the commit' });
      // The outbox's floor for the relay (every row of the transaction above it: the undone one took the id
      // before), then the capture function's domain.
      expect(notified).toEqual([String(BigInt(rows[0].id) - 1n), 'catalog']);
      expect(await redis.xlen(stream('catalog'))).toBe(lengths[0] + 1);
      expect(await redis.xlen(stream('orders'))).toBe(lengths[1]);
      const [last] = (await readStream(redis, stream('catalog'))).slice(-1);
      expect(last.event.id).toBe(rows[0].event_id);
    } finally {
      await listener.end();
    }
  });

  it('catalog rows: product insert/update/delete carry category and active state, stock and category changes raise their events', async () => {
    const { categoryA, categoryB } = suite.seeded;
    const before = await mark();
    const product = await insertProduct();
    await suite.ctx.sql.query(`INSERT INTO catalog.stock_levels (product_id, quantity) VALUES ($1, 5)`, [product]);
    // A move and a deactivation in one update: both before and after are carried.
    await suite.ctx.sql.query(`UPDATE catalog.products SET category_id = $2, active = false WHERE id = $1`, [
      product,
      categoryB,
    ]);
    // A name change only: previous values equal the new ones.
    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'Q' WHERE id = $1`, [product]);
    await suite.ctx.sql.query(`UPDATE catalog.stock_levels SET quantity = 6 WHERE product_id = $1`, [product]);
    const slug = `renamed-${uniq()}`;
    const { rows: old } = await suite.ctx.sql.query(`SELECT slug FROM catalog.categories WHERE id = $1`, [categoryA]);
    await suite.ctx.sql.query(`UPDATE catalog.categories SET slug = $2 WHERE id = $1`, [categoryA, slug]);
    // Deleting the product deletes its stock row by cascade: a stock event for the same product.
    await suite.ctx.sql.query(`DELETE FROM catalog.products WHERE id = $1`, [product]);

    const rows = await rowsAfter(before);
    const productAgg = { type: 'product', id: product };
    const stockAgg = { type: 'stock', id: product };
    expect(rows.map(summary)).toEqual([
      {
        type: 'catalog.product.inserted',
        aggregate: productAgg,
        source: 'postgres:catalog.products',
        data: { categoryId: categoryA, active: true },
      },
      { type: 'catalog.stock.updated', aggregate: stockAgg, source: 'postgres:catalog.stock_levels', data: {} },
      {
        type: 'catalog.product.updated',
        aggregate: productAgg,
        source: 'postgres:catalog.products',
        data: { categoryId: categoryB, previousCategoryId: categoryA, active: false, previousActive: true },
      },
      {
        type: 'catalog.product.updated',
        aggregate: productAgg,
        source: 'postgres:catalog.products',
        data: { categoryId: categoryB, previousCategoryId: categoryB, active: false, previousActive: false },
      },
      { type: 'catalog.stock.updated', aggregate: stockAgg, source: 'postgres:catalog.stock_levels', data: {} },
      {
        type: 'catalog.category.updated',
        aggregate: { type: 'category', id: categoryA },
        source: 'postgres:catalog.categories',
        data: { slug, previousSlug: old[0].slug },
      },
      expect.objectContaining({
        type: 'catalog.product.deleted',
        aggregate: productAgg,
        data: { categoryId: categoryB, active: false },
      }),
      expect.objectContaining({ type: 'catalog.stock.updated', aggregate: stockAgg }),
    ]);
    expect(rows.every((r) => r.domain === 'catalog' && r.schema_version === 1 && r.keys.length === 0)).toBe(true);
  });

  it('orders rows: item changes raise orders.order.updated for the parent with its accountId; a deleted order raises one event', async () => {
    const before = await mark();
    const account = `acc-${uniq()}`;
    const { rows: created } = await suite.ctx.sql.query(
      `INSERT INTO orders.orders (account_id, currency, customer_email, shipping_address) VALUES ($1, 'EUR', 'o@example.com', '{}') RETURNING id`,
      [account],
    );
    const order = created[0].id;
    const item = `INSERT INTO orders.order_items (order_id, product_id, sku, name, quantity, unit_price_cents)
                  VALUES ($1, gen_random_uuid(), 'S', 'N', 1, 10) RETURNING id`;
    const { rows: items } = await suite.ctx.sql.query(item, [order]);
    await suite.ctx.sql.query(item, [order]);
    await suite.ctx.sql.query(`UPDATE orders.order_items SET quantity = 4 WHERE id = $1`, [items[0].id]);
    await suite.ctx.sql.query(`DELETE FROM orders.order_items WHERE id = $1`, [items[0].id]);
    await suite.ctx.sql.query(`UPDATE orders.orders SET status = 'paid' WHERE id = $1`, [order]);
    await suite.ctx.sql.query(`UPDATE orders.orders SET account_id = 'other-account' WHERE id = $1`, [order]);
    await suite.ctx.sql.query(`DELETE FROM orders.orders WHERE id = $1`, [order]); // the remaining item goes by cascade

    const rows = await rowsAfter(before);
    const agg = { type: 'order', id: order };
    const byItems = {
      type: 'orders.order.updated',
      aggregate: agg,
      source: 'postgres:orders.order_items',
      data: { accountId: account },
    };
    expect(rows.map(summary)).toEqual([
      { type: 'orders.order.inserted', aggregate: agg, source: 'postgres:orders.orders', data: { accountId: account } },
      byItems,
      byItems,
      byItems,
      byItems,
      { type: 'orders.order.updated', aggregate: agg, source: 'postgres:orders.orders', data: { accountId: account } },
      {
        type: 'orders.order.updated',
        aggregate: agg,
        source: 'postgres:orders.orders',
        data: { accountId: 'other-account', previousAccountId: account },
      },
      {
        type: 'orders.order.deleted',
        aggregate: agg,
        source: 'postgres:orders.orders',
        data: { accountId: 'other-account' },
      },
    ]);
  });

  it('the relay publishes each committed row as the §6.2 envelope, in capture order, and marks it published', async () => {
    const before = await mark();
    const lengthBefore = await redis.xlen(stream('catalog'));
    await transaction(true, async (c) => {
      const p = await insertProduct(c);
      await c.query(`UPDATE catalog.products SET price_cents = 2 WHERE id = $1`, [p]);
      await c.query(`SELECT pg_sleep(0.05)`); // time must pass: the timestamps below are what is checked
      await c.query(`UPDATE catalog.products SET price_cents = 3 WHERE id = $1`, [p]);
    });
    const rows = await rowsAfter(before);
    expect(rows).toHaveLength(3);
    // occurredAt is when the change was made (clock_timestamp), not when the transaction began.
    expect(rows[2].occurred_at.getTime() - rows[1].occurred_at.getTime()).toBeGreaterThanOrEqual(45);
    await waitForCdc(suite.bff);

    const published = await suite.ctx.sql.query(
      `SELECT count(*) FROM cdc.outbox WHERE id > $1 AND published_at IS NOT NULL`,
      [before],
    );
    expect(Number(published.rows[0].count)).toBe(3);
    const entries: StreamEvent[] = (await readStream(redis, stream('catalog'))).slice(lengthBefore);
    expect(entries).toHaveLength(3);
    entries.forEach((entry, i) => {
      const row = rows[i];
      expect(Object.keys(entry.fields)).toEqual(['event']);
      expect(entry.event).toEqual({
        id: row.event_id,
        type: row.type,
        messageVersion: 1,
        schemaVersion: 1,
        source: 'postgres:catalog.products',
        occurredAt: row.occurred_at.toISOString(),
        aggregate: { type: 'product', id: row.aggregate_id },
        data: row.data,
      });
    });
  });

  it("the envelope of a row another publisher wrote: its text escaped, its keys carried (the relay's own JSON)", async () => {
    const before = await mark();
    const lengthBefore = await redis.xlen(stream('catalog'));
    // A service writing its own row: a source and an aggregate id that need escaping, data with unicode, keys.
    const source = 'service "pricing"\n\\v2 ✓';
    await suite.ctx.sql.query(
      `INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data, keys)
       VALUES ('catalog', 'catalog.promotion.updated', 'promotion', 'promo "7"', $1, $2, $3)`,
      [source, { note: 'ünïcode "quoted"', n: 1.5 }, ['catalog:categories', 'catalog:listing:shoes']],
    );
    const [row] = await rowsAfter(before);
    await waitForCdc(suite.bff);
    const [entry] = (await readStream(redis, stream('catalog'))).slice(lengthBefore);
    expect(entry.event).toEqual({
      id: row.event_id,
      type: 'catalog.promotion.updated',
      messageVersion: 1,
      schemaVersion: 1,
      source,
      occurredAt: row.occurred_at.toISOString(),
      aggregate: { type: 'promotion', id: 'promo "7"' },
      data: { note: 'ünïcode "quoted"', n: 1.5 },
      keys: ['catalog:categories', 'catalog:listing:shoes'],
    });
  });

  it('publishes a row whose transaction commits after a later row was published (no high-water mark)', async () => {
    const early = await suite.ctx.sql.connect();
    try {
      await early.query('BEGIN');
      const p = await insertProduct(early); // takes the lower outbox id, commits last
      const lateProduct = await insertProduct(); // a higher id, committed and published first
      await eventually(
        async () => {
          const { rows } = await suite.ctx.sql.query(`SELECT published_at FROM cdc.outbox WHERE aggregate_id = $1`, [
            lateProduct,
          ]);
          return rows[0]?.published_at !== null && rows[0]?.published_at !== undefined;
        },
        { timeoutMs: 10_000, message: 'the later row to be published' },
      );
      // Only now, with the later row published, does the earlier one commit.
      await early.query('COMMIT');
      await waitForCdc(suite.bff);
      const { rows } = await suite.ctx.sql.query<PublishedOutboxRow>(
        `SELECT * FROM cdc.outbox WHERE aggregate_id = ANY($1) ORDER BY id`,
        [[p, lateProduct]],
      );
      expect(rows.map((r) => r.aggregate_id)).toEqual([p, lateProduct]);
      expect(rows.every((r) => r.published_at !== null)).toBe(true);
      const ids = (await readStream(redis, stream('catalog'))).map((e) => e.event.id);
      expect(ids).toContain(rows[0].event_id);
      expect(ids.indexOf(rows[0].event_id)).toBeGreaterThan(ids.indexOf(rows[1].event_id));
    } finally {
      await early.query('ROLLBACK').catch(() => undefined);
      early.release();
    }
  });
});
