import { BillingInvoices1763800000000 } from './1763800000000-billing-invoices';

/**
 * Every migration of the billing schema, oldest first. Recorded in their own
 * table, apart from the BFF's `cachegate_migrations`: the two apps own their
 * schemas and their migration histories independently, even in one database.
 */
export const BILLING_MIGRATIONS = [BillingInvoices1763800000000];

export const BILLING_MIGRATIONS_TABLE = 'billing_migrations';
