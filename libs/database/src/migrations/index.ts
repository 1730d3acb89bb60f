import { CatalogAndOrders1763700000000 } from './1763700000000-catalog-and-orders';

/** Every migration of the cachegate database, oldest first (explicit, so ts-jest and dist load the same list). */
export const CACHEGATE_MIGRATIONS = [CatalogAndOrders1763700000000];
