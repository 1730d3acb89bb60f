import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Change capture (docs/contract.md §6.1): row triggers on every cached table write an
 * outbox row in the same transaction as the change and NOTIFY the relay. A
 * rolled-back change leaves nothing; a committed one cannot lose its event.
 * `id` is the capture order. `occurred_at` is clock_timestamp() (when the
 * change was made, not when its transaction began).
 */
export class CdcOutbox1763700100000 implements MigrationInterface {
  name = 'CdcOutbox1763700100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA cdc`);
    await q.query(`
      CREATE TABLE cdc.outbox (
        id              bigserial PRIMARY KEY,
        event_id        uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
        domain          text NOT NULL,
        type            text NOT NULL,
        aggregate_type  text NOT NULL,
        aggregate_id    text NOT NULL,
        source          text NOT NULL,
        data            jsonb NOT NULL DEFAULT '{}',
        keys            text[] NOT NULL DEFAULT '{}',
        schema_version  integer NOT NULL DEFAULT 1,
        occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
        published_at    timestamptz
      )`);
    await q.query(`CREATE INDEX outbox_unpublished_idx ON cdc.outbox (id) WHERE published_at IS NULL`);
    await q.query(`CREATE INDEX outbox_published_at_idx ON cdc.outbox (published_at) WHERE published_at IS NOT NULL`);

    // One capture function; the per-table triggers below decide type, aggregate and data.
    await q.query(`
      CREATE FUNCTION cdc.capture(p_domain text, p_aggregate text, p_op text, p_id text, p_source text, p_data jsonb)
      RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
        VALUES (p_domain, p_domain || '.' || p_aggregate || '.' || p_op, p_aggregate, p_id, p_source, p_data);
        PERFORM pg_notify('cachegate_cdc', p_domain);
      END $$`);

    await q.query(`
      CREATE FUNCTION cdc.op(tg_op text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE tg_op WHEN 'INSERT' THEN 'inserted' WHEN 'UPDATE' THEN 'updated' ELSE 'deleted' END
      $$`);

    await q.query(`
      CREATE FUNCTION cdc.capture_product() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM cdc.capture('catalog', 'product', cdc.op(TG_OP),
          COALESCE(NEW.id, OLD.id)::text, 'postgres:catalog.products',
          jsonb_strip_nulls(jsonb_build_object(
            'categoryId', COALESCE(NEW.category_id, OLD.category_id),
            'previousCategoryId', CASE WHEN TG_OP = 'UPDATE' THEN OLD.category_id END,
            'active', COALESCE(NEW.active, OLD.active),
            'previousActive', CASE WHEN TG_OP = 'UPDATE' THEN OLD.active END)));
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION cdc.capture_category() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM cdc.capture('catalog', 'category', cdc.op(TG_OP),
          COALESCE(NEW.id, OLD.id)::text, 'postgres:catalog.categories',
          jsonb_strip_nulls(jsonb_build_object(
            'slug', COALESCE(NEW.slug, OLD.slug),
            'previousSlug', CASE WHEN TG_OP = 'UPDATE' THEN OLD.slug END)));
        RETURN NULL;
      END $$`);
    // stock_levels extends products: any change is an update of the product's stock.
    await q.query(`
      CREATE FUNCTION cdc.capture_stock() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM cdc.capture('catalog', 'stock', 'updated',
          COALESCE(NEW.product_id, OLD.product_id)::text, 'postgres:catalog.stock_levels', '{}'::jsonb);
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION cdc.capture_order() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM cdc.capture('orders', 'order', cdc.op(TG_OP),
          COALESCE(NEW.id, OLD.id)::text, 'postgres:orders.orders',
          jsonb_strip_nulls(jsonb_build_object(
            'accountId', COALESCE(NEW.account_id, OLD.account_id),
            'previousAccountId', CASE WHEN TG_OP = 'UPDATE' AND OLD.account_id <> NEW.account_id THEN OLD.account_id END)));
        RETURN NULL;
      END $$`);
    // order_items extends orders: an item change is an update of its order. When the
    // order itself is being deleted (cascade), its own event covers it.
    await q.query(`
      CREATE FUNCTION cdc.capture_order_item() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        v_order uuid := COALESCE(NEW.order_id, OLD.order_id);
        v_account text;
      BEGIN
        SELECT account_id INTO v_account FROM orders.orders WHERE id = v_order;
        IF v_account IS NOT NULL THEN
          PERFORM cdc.capture('orders', 'order', 'updated', v_order::text, 'postgres:orders.order_items',
            jsonb_build_object('accountId', v_account));
        END IF;
        RETURN NULL;
      END $$`);

    const triggers: [string, string][] = [
      ['catalog.products', 'cdc.capture_product'],
      ['catalog.categories', 'cdc.capture_category'],
      ['catalog.stock_levels', 'cdc.capture_stock'],
      ['orders.orders', 'cdc.capture_order'],
      ['orders.order_items', 'cdc.capture_order_item'],
    ];
    for (const [table, fn] of triggers) {
      await q.query(`CREATE TRIGGER capture_change AFTER INSERT OR UPDATE OR DELETE ON ${table}
                     FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'catalog.products',
      'catalog.categories',
      'catalog.stock_levels',
      'orders.orders',
      'orders.order_items',
    ]) {
      await q.query(`DROP TRIGGER capture_change ON ${table}`);
    }
    await q.query(`DROP SCHEMA cdc CASCADE`);
  }
}
