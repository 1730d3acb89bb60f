import { cacheKey, dependencyKey, patternSegment, uuidSegment } from '@app/cache';
import { SLUG_PATTERN } from './dto/category.dto';

/** Every cache key and dependency set of the catalog (docs/contract.md §5.1). Identifiers are validated here. */
export const CATALOG = 'catalog';

export const catalogKeys = {
  categories: () => cacheKey(CATALOG, 'categories'),
  listing: (slug: unknown) => cacheKey(CATALOG, 'listing', patternSegment(slug, SLUG_PATTERN)),
  product: (id: unknown) => cacheKey(CATALOG, 'product', uuidSegment(id)),
  availability: (id: unknown) => cacheKey(CATALOG, 'availability', uuidSegment(id)),
};

export const catalogDependencies = {
  /** Views that contain the product (listings). */
  product: (id: string) => dependencyKey(CATALOG, 'product', uuidSegment(id)),
  /** Views built from the category (its listing, the categories list). */
  category: (id: string) => dependencyKey(CATALOG, 'category', uuidSegment(id)),
};
