import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The schema `billing` of docs/contract.md §2, owned by apps/billing alone (the BFF never
 * reads it; it calls the billing API). The rules every writer must obey live in
 * the database, and so does `updated_at`: a trigger bumps it on every UPDATE,
 * whoever makes it. Nothing here depends on the BFF's schemas or functions.
 */
export class BillingInvoices1763800000000 implements MigrationInterface {
  name = 'BillingInvoices1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA billing`);
    await q.query(`
      CREATE FUNCTION billing.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.updated_at := now();
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TABLE billing.invoices (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id   text NOT NULL CHECK (account_id ~ '^[A-Za-z0-9_-]{1,64}$'),
        number       text NOT NULL CONSTRAINT invoices_number_key UNIQUE CHECK (number ~ '^[A-Za-z0-9-]{1,64}$'),
        status       text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'open', 'paid', 'void')),
        total_cents  integer NOT NULL CHECK (total_cents >= 0),
        currency     char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        due_date     date NOT NULL,
        updated_at   timestamptz NOT NULL DEFAULT now()
      )`);
    // Serves the account listing in its order (byte order of the number, so every server sorts alike).
    await q.query(
      `CREATE INDEX invoices_account_due_idx ON billing.invoices (account_id, due_date, number COLLATE "C")`,
    );
    await q.query(`CREATE TRIGGER touch_updated_at BEFORE UPDATE ON billing.invoices
                   FOR EACH ROW EXECUTE FUNCTION billing.touch_updated_at()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA billing CASCADE`);
  }
}
