import { Injectable } from '@nestjs/common';
import { DomainCache, TwoTierCache } from '@app/cache';
import { CategoryListingView, CategorySummaryView } from './catalog.views';
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
  | { aggregate: 'stock'; id: string; kind: 'inserted' | 'updated' | 'deleted' };

/** The keys and dependency sets a change makes stale; only those (SPEC §9.5, granular). */
export function catalogInvalidation(change: CatalogChange): { keys: string[]; dependencies: string[] } {
  switch (change.aggregate) {
    case 'product': {
      const moved = change.kind !== 'updated' || change.membershipChanged;
      return {
        keys: [keys.product(change.id), ...(change.kind === 'deleted' ? [keys.availability(change.id)] : []), ...(moved ? [keys.categories()] : [])],
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
 * The catalog's buckets (SPEC §5.2). Listings record the products and the
 * category they were built from; the categories list records every category.
 */
@Injectable()
export class CatalogCacheService extends DomainCache<'product' | 'listing' | 'categories' | 'availability'> {
  constructor(cache: TwoTierCache) {
    super(cache, CATALOG, {
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
      availability: { strategy: 'hybrid', ttlSeconds: 60 },
    });
  }

  async changed(change: CatalogChange): Promise<void> {
    const { keys: k, dependencies } = catalogInvalidation(change);
    await this.invalidateOrWarn(k, dependencies);
  }
}
