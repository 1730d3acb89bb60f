import { cacheKey, patternSegment } from '@app/cache';
import { ACCOUNT_ID_PATTERN } from '@app/http';

/** Every cache key of the invoices domain (docs/contract.md §5.1). Identifiers are validated here. */
export const INVOICES = 'invoices';

export const invoicesKeys = {
  /** An account's invoice list, as apps/billing serves it. */
  account: (accountId: unknown) => cacheKey(INVOICES, 'account', patternSegment(accountId, ACCOUNT_ID_PATTERN)),
};
