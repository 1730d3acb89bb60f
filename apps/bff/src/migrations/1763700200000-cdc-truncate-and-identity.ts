import { MigrationInterface, QueryRunner } from 'typeorm';

/** Every captured table, its domain and the aggregate its rows belong to (as the row triggers name them). */
const CAPTURED: [table: string, domain: string, aggregate: string][] = [
  ['catalog.products', 'catalog', 'product'],
  ['catalog.categories', 'catalog', 'category'],
  ['catalog.stock_levels', 'catalog', 'stock'],
  ['orders.orders', 'orders', 'order'],
  // Items extend orders (as for the row trigger): emptying them changes every order.
  ['orders.order_items', 'orders', 'order'],
];

/**
 * Closes two silent-staleness gaps of the capture (docs/contract.md §5.9, §6.1).
 *
 * TRUNCATE fires no row trigger, so it emitted nothing and every cached view
 * of the table's domain stayed served. A statement-level `AFTER TRUNCATE`
 * trigger on every captured table now writes one outbox row per truncated
 * table (a `TRUNCATE … CASCADE` fires it on each table it empties), in the
 * truncating transaction, through the same cdc.capture() as the row triggers
 * (so it NOTIFYs the relay too): type `<domain>.<aggregate>.truncated`,
 * aggregate id `*` ("every aggregate of this type"), data `{}`. Subscribers
 * drop every view of the domain on it.
 *
 * `cdc.database_identity` names this incarnation of the database: one row, a
 * random uuid made when the row is created. The BFF checks it (with the
 * cluster's system identifier and the database's OID, which no restore brings
 * back) against the identity its cache was filled from, and drops the cache
 * when they differ (apps/bff/src/database-identity.ts). After a restore in
 * place (`pg_restore --clean` into the same database), which brings the old
 * row back, operators run (docs/operations.md):
 *
 *   UPDATE cdc.database_identity SET id = gen_random_uuid();
 */
export class CdcTruncateAndIdentity1763700200000 implements MigrationInterface {
  name = 'CdcTruncateAndIdentity1763700200000';

  async up(q: QueryRunner): Promise<void> {
    // TG_ARGV: domain, aggregate. The source names the table actually truncated.
    await q.query(`
      CREATE FUNCTION cdc.capture_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM cdc.capture(TG_ARGV[0], TG_ARGV[1], 'truncated', '*',
          'postgres:' || TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, '{}'::jsonb);
        RETURN NULL;
      END $$`);
    for (const [table, domain, aggregate] of CAPTURED) {
      await q.query(`CREATE TRIGGER capture_truncate AFTER TRUNCATE ON ${table}
                     FOR EACH STATEMENT EXECUTE FUNCTION cdc.capture_truncate('${domain}', '${aggregate}')`);
    }

    // Exactly one row: the boolean key can only be true.
    await q.query(`
      CREATE TABLE cdc.database_identity (
        singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        id          uuid NOT NULL DEFAULT gen_random_uuid(),
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO cdc.database_identity DEFAULT VALUES`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE cdc.database_identity`);
    for (const [table] of CAPTURED) await q.query(`DROP TRIGGER capture_truncate ON ${table}`);
    await q.query(`DROP FUNCTION cdc.capture_truncate()`);
  }
}
