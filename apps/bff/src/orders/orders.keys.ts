import { cacheKey, patternSegment, uuidSegment } from '@app/cache';
import { ACCOUNT_ID_PATTERN } from '@app/http';

/** Every cache key of the orders domain (docs/contract.md §5.1). Identifiers are validated here. */
export const ORDERS = 'orders';

export const ordersKeys = {
  detail: (id: unknown) => cacheKey(ORDERS, 'detail', uuidSegment(id)),
  account: (accountId: unknown) => cacheKey(ORDERS, 'account', patternSegment(accountId, ACCOUNT_ID_PATTERN)),
};
