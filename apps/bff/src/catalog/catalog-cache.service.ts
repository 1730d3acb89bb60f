import { Injectable } from '@nestjs/common';
import { DomainCache, DomainCacheContext, Invalidation } from '@app/cache';
import type { CdcEvent } from '@app/cdc';
import { AvailabilityView, CategoryListingView, CategorySummaryView } from './catalog.views';
import { CATALOG, catalogDependencies as deps, catalogKeys as keys } from './catalog.keys';

/** What changed in the catalog, as far as cached views care (the shape CDC events carry too). */
export type CatalogChange =
  | {
      aggregate: 'product';
      id: string;
      kind: 'inserted' | 'updated' | 'deleted';
      /** Category before and after (the same when it did not move). */
      categoryIds: string[];
      /** Whether the product counts towards productCount / appears in listings may have changed. */
      membershipChanged: boolean;
    }
  | { aggregate: 'category'; id: string; kind: 'inserted' | 'updated' | 'deleted' }
  | { aggregate: 'stock'; id: string; kind: 'inserted' | 'updated' | 'deleted' }
  /** The aggregate's table was truncated (aggregate id `*`): every row of it is gone. */
  | { aggregate: 'product' | 'category' | 'stock'; kind: 'truncated' };

const KINDS = new Set(['inserted', 'updated', 'deleted']);
const AGGREGATES = new Set(['product', 'category', 'stock']);

/**
 * Reads a catalog CDC event (docs/contract.md §6.2). Product events carry `categoryId`
 * (and on updates `previousCategoryId`, `active`, `previousActive`); an event
 * from another publisher that omits them is treated as a membership change.
 * Unknown aggregates map to nothing (their explicit keys still apply). A
 * `truncated` event (TRUNCATE of products, categories or stock_levels) maps to
 * a change of every row of the aggregate.
 */
export function catalogChangeFromEvent(event: CdcEvent): CatalogChange | undefined {
  const [, aggregate, kind] = event.type.split('.');
  if (kind === 'truncated') {
    return AGGREGATES.has(aggregate)
      ? { aggregate: aggregate as 'product' | 'category' | 'stock', kind: 'truncated' }
      : undefined;
  }
  if (!KINDS.has(kind)) return undefined;
  const k = kind as CatalogChange['kind'];
  const id = event.aggregate.id;
  const data = event.data as {
    categoryId?: unknown;
    previousCategoryId?: unknown;
    active?: unknown;
    previousActive?: unknown;
  };
  switch (aggregate) {
    case 'product': {
      const categoryIds = [data.categoryId, data.previousCategoryId].filter((c): c is string => typeof c === 'string');
      const known = typeof data.previousActive === 'boolean' && typeof data.previousCategoryId === 'string';
      const membershipChanged =
        !known || data.categoryId !== data.previousCategoryId || data.active !== data.previousActive;
      return { aggregate: 'product', id, kind: k, categoryIds: [...new Set(categoryIds)], membershipChanged };
    }
    case 'category':
      return { aggregate: 'category', id, kind: k };
    case 'stock':
      return { aggregate: 'stock', id, kind: k };
    default:
      return undefined;
  }
}

/**
 * The keys and dependency sets a change makes stale; only those (docs/contract.md §9.5,
 * granular). `all`: every view of the domain is stale (a truncated table:
 * products, categories and stock appear in listings, counts and details alike).
 */
export function catalogInvalidation(change: CatalogChange): {
  keys: string[];
  dependencies: string[];
  all?: true;
} {
  if (change.kind === 'truncated') return { keys: [], dependencies: [], all: true };
  switch (change.aggregate) {
    case 'product': {
      const moved = change.kind !== 'updated' || change.membershipChanged;
      return {
        // The product's set also holds its availability view when cached (built from the product row itself
        // for a product without a stock row): dropped if cached, at no cost if not.
        keys: [keys.product(change.id), ...(moved ? [keys.categories()] : [])],
        dependencies: [deps.product(change.id), ...(moved ? change.categoryIds.map(deps.category) : [])],
      };
    }
    case 'category':
      return { keys: [keys.categories()], dependencies: [deps.category(change.id)] };
    case 'stock':
      return { keys: [keys.availability(change.id)], dependencies: [] };
  }
}

/**
 * What one catalog CDC event makes stale (pure, so that a batch can be mapped
 * first and applied as one invalidation): its change's keys and dependencies,
 * plus the keys its publisher named. Throws for an event no key can be built
 * from (an aggregate id that is not a UUID).
 */
export function catalogInvalidationOf(event: CdcEvent): Invalidation {
  const change = catalogChangeFromEvent(event);
  const { keys: k, dependencies, all } = change ? catalogInvalidation(change) : { keys: [], dependencies: [] };
  return { keys: event.keys ? [...k, ...event.keys] : k, dependencies, all };
}

/**
 * The catalog's buckets (docs/contract.md §5.2). Listings record the products and the
 * category they were built from; the categories list records every category.
 */
@Injectable()
export class CatalogCacheService extends DomainCache<'product' | 'listing' | 'categories' | 'availability'> {
  constructor(context: DomainCacheContext) {
    super(context, CATALOG, {
      product: { strategy: 'cdc' },
      listing: {
        strategy: 'cdc',
        dependencies: (view: CategoryListingView) => [
          deps.category(view.category.id),
          ...view.products.map((p) => deps.product(p.id)),
        ],
      },
      categories: {
        strategy: 'cdc',
        dependencies: (view: CategorySummaryView[]) => view.map((c) => deps.category(c.id)),
      },
      // In the product's set: without a stock row it is built from the product row (a stock row's own events
      // drop it by key). Every product event drops it through the set, as it did by key, but only when cached:
      // a bulk change of 100,000 products no longer deletes and broadcasts 100,000 availability keys nobody read.
      availability: {
        strategy: 'hybrid',
        ttlSeconds: 60,
        dependencies: (view: AvailabilityView) => [deps.product(view.productId)],
      },
    });
  }

  /** Drops what catalog change events make stale, as one invalidation (the CDC handler and the API's own writes). */
  async applyEvents(events: readonly CdcEvent[]): Promise<void> {
    await this.invalidateBatch(events.map(catalogInvalidationOf));
  }

  /** Applies one change: drops what it makes stale. Throws when Redis cannot be reached. (CDC batches: invalidateBatch.) */
  async apply(change: CatalogChange | undefined, explicitKeys: readonly string[] = []): Promise<void> {
    const invalidation = change ? catalogInvalidation(change) : { keys: [], dependencies: [] };
    await this.invalidateBatch([invalidation, { keys: explicitKeys }]);
  }
}
