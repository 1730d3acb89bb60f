import { cacheKey, uuidSegment } from '@app/cache';

/** Every cache key of the invoices domain (SPEC §5.1). Identifiers are validated here. */
export const INVOICES = 'invoices';

export const invoicesKeys = {
  item: (id: unknown) => cacheKey(INVOICES, 'item', uuidSegment(id)),
};
