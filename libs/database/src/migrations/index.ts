import { CatalogAndOrders1763700000000 } from './1763700000000-catalog-and-orders';
import { CdcOutbox1763700100000 } from './1763700100000-cdc-outbox';

/** Every migration of the cachegate database, oldest first (explicit, so ts-jest and dist load the same list). */
export const CACHEGATE_MIGRATIONS = [CatalogAndOrders1763700000000, CdcOutbox1763700100000];
