import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The catalog and orders schemas of docs/contract.md §2. Names and columns are a contract:
 * other programs read and write these tables directly, so the rules that must
 * hold for every writer (patterns, ranges, version bumps) live in the database.
 */
export class CatalogAndOrders1763700000000 implements MigrationInterface {
  name = 'CatalogAndOrders1763700000000';

  async up(q: QueryRunner): Promise<void> {
    // Shared row hooks: every UPDATE by any writer bumps updated_at (and version where there is one).
    await q.query(`
      CREATE FUNCTION public.cachegate_touch_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.updated_at := now();
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE FUNCTION public.cachegate_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.version := OLD.version + 1;
        NEW.updated_at := now();
        RETURN NEW;
      END $$`);

    await q.query(`CREATE SCHEMA catalog`);
    await q.query(`
      CREATE TABLE catalog.categories (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug        text NOT NULL CONSTRAINT categories_slug_key UNIQUE CHECK (slug ~ '^[a-z0-9-]{1,64}$'),
        name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE catalog.products (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        sku          text NOT NULL CONSTRAINT products_sku_key UNIQUE CHECK (sku ~ '^[A-Z0-9-]{1,64}$'),
        name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
        description  text NOT NULL DEFAULT '' CHECK (char_length(description) <= 5000),
        price_cents  integer NOT NULL CHECK (price_cents >= 0),
        currency     char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        category_id  uuid NOT NULL REFERENCES catalog.categories (id),
        active       boolean NOT NULL DEFAULT true,
        version      integer NOT NULL DEFAULT 1,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX products_category_name_idx ON catalog.products (category_id, name)`);
    await q.query(`
      CREATE TABLE catalog.stock_levels (
        product_id  uuid PRIMARY KEY REFERENCES catalog.products (id) ON DELETE CASCADE,
        quantity    integer NOT NULL CHECK (quantity >= 0),
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`CREATE SCHEMA orders`);
    await q.query(`
      CREATE TABLE orders.orders (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id        text NOT NULL CHECK (account_id ~ '^[A-Za-z0-9_-]{1,64}$'),
        status            text NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
        currency          char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        customer_email    text NOT NULL,
        shipping_address  jsonb NOT NULL,
        total_cents       integer NOT NULL DEFAULT 0 CHECK (total_cents >= 0),
        version           integer NOT NULL DEFAULT 1,
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX orders_account_created_idx ON orders.orders (account_id, created_at DESC)`);
    await q.query(`
      CREATE TABLE orders.order_items (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        order_id          uuid NOT NULL REFERENCES orders.orders (id) ON DELETE CASCADE,
        product_id        uuid NOT NULL,
        sku               text NOT NULL,
        name              text NOT NULL,
        quantity          integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
        unit_price_cents  integer NOT NULL CHECK (unit_price_cents >= 0)
      )`);
    await q.query(`CREATE INDEX order_items_order_idx ON orders.order_items (order_id)`);

    for (const table of ['catalog.products', 'orders.orders']) {
      await q.query(`CREATE TRIGGER bump_version BEFORE UPDATE ON ${table}
                     FOR EACH ROW EXECUTE FUNCTION public.cachegate_bump_version()`);
    }
    for (const table of ['catalog.categories', 'catalog.stock_levels']) {
      await q.query(`CREATE TRIGGER touch_row BEFORE UPDATE ON ${table}
                     FOR EACH ROW EXECUTE FUNCTION public.cachegate_touch_row()`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA orders CASCADE`);
    await q.query(`DROP SCHEMA catalog CASCADE`);
    await q.query(`DROP FUNCTION public.cachegate_bump_version()`);
    await q.query(`DROP FUNCTION public.cachegate_touch_row()`);
  }
}
