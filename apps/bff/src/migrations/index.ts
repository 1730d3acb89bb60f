import { CatalogAndOrders1763700000000 } from './1763700000000-catalog-and-orders';
import { CdcOutbox1763700100000 } from './1763700100000-cdc-outbox';

/**
 * Every migration of the BFF's schemas (catalog, orders, the CDC outbox and
 * its capture triggers), oldest first: explicit, so ts-jest and dist load the
 * same list. apps/billing keeps its own, in its own table.
 */
export const BFF_MIGRATIONS = [CatalogAndOrders1763700000000, CdcOutbox1763700100000];

export const BFF_MIGRATIONS_TABLE = 'cachegate_migrations';
