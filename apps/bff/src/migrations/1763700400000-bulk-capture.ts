import { MigrationInterface, QueryRunner } from 'typeorm';

/** The captured tables, their statement-level capture function, and their former row trigger's function. */
const TABLES: [table: string, capture: string, rowCapture: string][] = [
  ['catalog.products', 'cdc.capture_products', 'cdc.capture_product'],
  ['catalog.categories', 'cdc.capture_categories', 'cdc.capture_category'],
  ['catalog.stock_levels', 'cdc.capture_stock_levels', 'cdc.capture_stock'],
  ['orders.orders', 'cdc.capture_orders', 'cdc.capture_order'],
  ['orders.order_items', 'cdc.capture_order_items', 'cdc.capture_order_item'],
];

const OPS: [op: 'INSERT' | 'UPDATE' | 'DELETE', referencing: string][] = [
  ['INSERT', 'REFERENCING NEW TABLE AS new_rows'],
  ['UPDATE', 'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'],
  ['DELETE', 'REFERENCING OLD TABLE AS old_rows'],
];

/**
 * Bulk capture (docs/contract.md §6.1, §6.3 "bulk changes are normal"): the row triggers
 * of 1763700100000 become statement-level triggers with transition tables, so
 * that one statement writes all its outbox rows with one INSERT … SELECT and
 * sends one NOTIFY, instead of one plpgsql call, INSERT and pg_notify per row.
 *
 * The outbox rows are the same as before, one per changed row, in the same
 * transaction, with the same type, aggregate, source and data, and the order
 * they were captured in is unchanged between statements. Within a statement
 * their order is not that of the rows (they commit together). A rolled-back
 * statement or savepoint takes its rows with it; `session_replication_role =
 * replica` still skips capture. Cascades are still captured: a cascaded
 * DELETE fires the child table's statement trigger too (stock rows of a
 * deleted product; items of a deleted order find no parent and emit nothing,
 * as before).
 *
 * One difference, a correction: an UPDATE that changes a captured row's
 * primary key now emits the old id as `deleted` and the new one as `inserted`
 * (the row trigger named the new id only, so the old id's views stayed cached);
 * an item moved to another order changes both orders.
 *
 * One trigger per operation and table (PostgreSQL allows transition tables on
 * single-event triggers only), all calling the table's capture function, which
 * reads TG_OP. `occurred_at` keeps its default, clock_timestamp(), taken as the
 * statement's rows are written: the end of the statement, not each row's
 * change.
 */
export class BulkCapture1763700400000 implements MigrationInterface {
  name = 'BulkCapture1763700400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION cdc.capture_products() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          SELECT 'catalog', 'catalog.product.inserted', 'product', n.id::text, 'postgres:catalog.products',
                 jsonb_strip_nulls(jsonb_build_object('categoryId', n.category_id, 'active', n.active))
            FROM new_rows n;
        ELSIF TG_OP = 'UPDATE' THEN
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          SELECT 'catalog',
                 CASE WHEN o.id IS NULL THEN 'catalog.product.inserted'
                      WHEN n.id IS NULL THEN 'catalog.product.deleted'
                      ELSE 'catalog.product.updated' END,
                 'product', COALESCE(n.id, o.id)::text, 'postgres:catalog.products',
                 jsonb_strip_nulls(jsonb_build_object(
                   'categoryId', COALESCE(n.category_id, o.category_id),
                   'previousCategoryId', CASE WHEN n.id IS NOT NULL THEN o.category_id END,
                   'active', COALESCE(n.active, o.active),
                   'previousActive', CASE WHEN n.id IS NOT NULL THEN o.active END))
            FROM new_rows n FULL JOIN old_rows o ON o.id = n.id;
        ELSE
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          SELECT 'catalog', 'catalog.product.deleted', 'product', o.id::text, 'postgres:catalog.products',
                 jsonb_strip_nulls(jsonb_build_object('categoryId', o.category_id, 'active', o.active))
            FROM old_rows o;
        END IF;
        IF FOUND THEN PERFORM pg_notify('cachegate_cdc', 'catalog'); END IF;
        RETURN NULL;
      END $$`);

    await q.query(`
      CREATE FUNCTION cdc.capture_categories() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          SELECT 'catalog', 'catalog.category.inserted', 'category', n.id::text, 'postgres:catalog.categories',
                 jsonb_strip_nulls(jsonb_build_object('slug', n.slug))
            FROM new_rows n;
        ELSIF TG_OP = 'UPDATE' THEN
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          SELECT 'catalog',
                 CASE WHEN o.id IS NULL THEN 'catalog.category.inserted'
                      WHEN n.id IS NULL THEN 'catalog.category.deleted'
                      ELSE 'catalog.category.updated' END,
                 'category', COALESCE(n.id, o.id)::text, 'postgres:catalog.categories',
                 jsonb_strip_nulls(jsonb_build_object(
                   'slug', COALESCE(n.slug, o.slug),
                   'previousSlug', CASE WHEN n.id IS NOT NULL THEN o.slug END))
            FROM new_rows n FULL JOIN old_rows o ON o.id = n.id;
        ELSE
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          SELECT 'catalog', 'catalog.category.deleted', 'category', o.id::text, 'postgres:catalog.categories',
                 jsonb_strip_nulls(jsonb_build_object('slug', o.slug))
            FROM old_rows o;
        END IF;
        IF FOUND THEN PERFORM pg_notify('cachegate_cdc', 'catalog'); END IF;
        RETURN NULL;
      END $$`);

    // stock_levels extends products: any change is an update of the product's stock (of both products, if moved).
    await q.query(`
      CREATE FUNCTION cdc.capture_stock_levels() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source)
          SELECT 'catalog', 'catalog.stock.updated', 'stock', n.product_id::text, 'postgres:catalog.stock_levels'
            FROM new_rows n;
        ELSIF TG_OP = 'UPDATE' THEN
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source)
          SELECT 'catalog', 'catalog.stock.updated', 'stock', COALESCE(n.product_id, o.product_id)::text,
                 'postgres:catalog.stock_levels'
            FROM new_rows n FULL JOIN old_rows o ON o.product_id = n.product_id;
        ELSE
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source)
          SELECT 'catalog', 'catalog.stock.updated', 'stock', o.product_id::text, 'postgres:catalog.stock_levels'
            FROM old_rows o;
        END IF;
        IF FOUND THEN PERFORM pg_notify('cachegate_cdc', 'catalog'); END IF;
        RETURN NULL;
      END $$`);

    await q.query(`
      CREATE FUNCTION cdc.capture_orders() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          SELECT 'orders', 'orders.order.inserted', 'order', n.id::text, 'postgres:orders.orders',
                 jsonb_strip_nulls(jsonb_build_object('accountId', n.account_id))
            FROM new_rows n;
        ELSIF TG_OP = 'UPDATE' THEN
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          SELECT 'orders',
                 CASE WHEN o.id IS NULL THEN 'orders.order.inserted'
                      WHEN n.id IS NULL THEN 'orders.order.deleted'
                      ELSE 'orders.order.updated' END,
                 'order', COALESCE(n.id, o.id)::text, 'postgres:orders.orders',
                 jsonb_strip_nulls(jsonb_build_object(
                   'accountId', COALESCE(n.account_id, o.account_id),
                   'previousAccountId', CASE WHEN o.account_id <> n.account_id THEN o.account_id END))
            FROM new_rows n FULL JOIN old_rows o ON o.id = n.id;
        ELSE
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          SELECT 'orders', 'orders.order.deleted', 'order', o.id::text, 'postgres:orders.orders',
                 jsonb_strip_nulls(jsonb_build_object('accountId', o.account_id))
            FROM old_rows o;
        END IF;
        IF FOUND THEN PERFORM pg_notify('cachegate_cdc', 'orders'); END IF;
        RETURN NULL;
      END $$`);

    // order_items extends orders: an item change is an update of its order, one event per item row. When
    // the order itself is gone (deleted, the items by cascade), its own event covers it: no parent, no event.
    await q.query(`
      CREATE FUNCTION cdc.capture_order_items() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          SELECT 'orders', 'orders.order.updated', 'order', ord.id::text, 'postgres:orders.order_items',
                 jsonb_build_object('accountId', ord.account_id)
            FROM new_rows n JOIN orders.orders ord ON ord.id = n.order_id;
        ELSIF TG_OP = 'UPDATE' THEN
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          SELECT 'orders', 'orders.order.updated', 'order', ord.id::text, 'postgres:orders.order_items',
                 jsonb_build_object('accountId', ord.account_id)
            FROM (SELECT n.order_id FROM new_rows n
                  UNION ALL
                  -- the order an item left
                  SELECT o.order_id FROM old_rows o LEFT JOIN new_rows n ON n.id = o.id
                   WHERE n.id IS NULL OR n.order_id <> o.order_id) item
            JOIN orders.orders ord ON ord.id = item.order_id;
        ELSE
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          SELECT 'orders', 'orders.order.updated', 'order', ord.id::text, 'postgres:orders.order_items',
                 jsonb_build_object('accountId', ord.account_id)
            FROM old_rows o JOIN orders.orders ord ON ord.id = o.order_id;
        END IF;
        IF FOUND THEN PERFORM pg_notify('cachegate_cdc', 'orders'); END IF;
        RETURN NULL;
      END $$`);

    for (const [table, capture] of TABLES) {
      await q.query(`DROP TRIGGER capture_change ON ${table}`);
      for (const [op, referencing] of OPS) {
        await q.query(`CREATE TRIGGER capture_${op.toLowerCase()} AFTER ${op} ON ${table} ${referencing}
                       FOR EACH STATEMENT EXECUTE FUNCTION ${capture}()`);
      }
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [table, capture, rowCapture] of TABLES) {
      for (const [op] of OPS) await q.query(`DROP TRIGGER capture_${op.toLowerCase()} ON ${table}`);
      await q.query(`DROP FUNCTION ${capture}()`);
      await q.query(`CREATE TRIGGER capture_change AFTER INSERT OR UPDATE OR DELETE ON ${table}
                     FOR EACH ROW EXECUTE FUNCTION ${rowCapture}()`);
    }
  }
}
