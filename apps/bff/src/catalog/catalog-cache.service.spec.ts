import { DomainCacheContext, DomainRegistry } from '@app/cache';
import type { CdcEvent } from '@app/cdc';
import {
  CatalogCacheService,
  catalogChangeFromEvent,
  catalogInvalidation,
  catalogInvalidationOf,
} from './catalog-cache.service';

const P = '0f8fad5b-d9cb-469f-a165-70867728950e';
const A = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const B = '16fd2706-8baf-433b-82eb-8c7fada847da';

function event(type: string, data: Record<string, unknown>, id = P): CdcEvent {
  return {
    id: 'e1',
    type,
    messageVersion: 1,
    schemaVersion: 1,
    source: 'postgres:catalog.products',
    occurredAt: new Date().toISOString(),
    aggregate: { type: type.split('.')[1], id },
    data,
  };
}

describe('catalog invalidation mapping', () => {
  it('drops only the product and the views containing it (its availability among them) on a plain update', () => {
    const change = catalogChangeFromEvent(
      event('catalog.product.updated', { categoryId: A, previousCategoryId: A, active: true, previousActive: true }),
    );
    // Availability is in the product's set: without a stock row it is built from the product row (its updatedAt).
    expect(catalogInvalidation(change!)).toEqual({
      keys: [`catalog:product:${P}`],
      dependencies: [`catalog:deps:product:${P}`],
    });
  });

  it('drops both listings and the categories list when a product moves', () => {
    const change = catalogChangeFromEvent(
      event('catalog.product.updated', { categoryId: B, previousCategoryId: A, active: true, previousActive: true }),
    );
    const { keys, dependencies } = catalogInvalidation(change!);
    expect(keys).toEqual([`catalog:product:${P}`, 'catalog:categories']);
    expect(dependencies).toEqual([
      `catalog:deps:product:${P}`,
      `catalog:deps:category:${B}`,
      `catalog:deps:category:${A}`,
    ]);
  });

  it('treats an active toggle as a membership change', () => {
    const change = catalogChangeFromEvent(
      event('catalog.product.updated', { categoryId: A, previousCategoryId: A, active: false, previousActive: true }),
    );
    expect(catalogInvalidation(change!).keys).toContain('catalog:categories');
  });

  it('drops the category listing when a product is deleted or inserted', () => {
    const deleted = catalogInvalidation(
      catalogChangeFromEvent(event('catalog.product.deleted', { categoryId: A, active: true }))!,
    );
    expect(deleted.keys).toEqual([`catalog:product:${P}`, 'catalog:categories']);
    expect(deleted.dependencies).toContain(`catalog:deps:product:${P}`);
    expect(deleted.dependencies).toContain(`catalog:deps:category:${A}`);
    const inserted = catalogInvalidation(
      catalogChangeFromEvent(event('catalog.product.inserted', { categoryId: A, active: true }))!,
    );
    expect(inserted.dependencies).toContain(`catalog:deps:category:${A}`);
  });

  it('is conservative with an event from a publisher that omits the previous state', () => {
    const change = catalogChangeFromEvent(event('catalog.product.updated', { categoryId: A }));
    expect(change).toMatchObject({ membershipChanged: true, categoryIds: [A] });
  });

  it('maps category and stock events', () => {
    expect(catalogInvalidation(catalogChangeFromEvent(event('catalog.category.updated', {}, A))!)).toEqual({
      keys: ['catalog:categories'],
      dependencies: [`catalog:deps:category:${A}`],
    });
    expect(catalogInvalidation(catalogChangeFromEvent(event('catalog.stock.updated', {}))!)).toEqual({
      keys: [`catalog:availability:${P}`],
      dependencies: [],
    });
  });

  it.each(['product', 'category', 'stock'])('drops every catalog view when %s is truncated', (aggregate) => {
    const change = catalogChangeFromEvent(event(`catalog.${aggregate}.truncated`, {}, '*'));
    expect(change).toEqual({ aggregate, kind: 'truncated' });
    expect(catalogInvalidation(change!)).toEqual({ keys: [], dependencies: [], all: true });
  });

  it('does not drop the whole domain for a keyed change', () => {
    const change = catalogChangeFromEvent(event('catalog.product.deleted', { categoryId: A }));
    expect(catalogInvalidation(change!).all).toBeUndefined();
  });

  it('ignores aggregates it does not know', () => {
    expect(catalogChangeFromEvent(event('catalog.review.updated', {}))).toBeUndefined();
    expect(catalogChangeFromEvent(event('catalog.review.truncated', {}, '*'))).toBeUndefined();
  });

  it('refuses an aggregate id that cannot be a key (the entry is retried, then dead-lettered)', () => {
    const change = catalogChangeFromEvent(event('catalog.product.updated', { categoryId: A }, 'not-a-uuid'));
    expect(() => catalogInvalidation(change!)).toThrow();
  });
});

describe('catalog CDC batches', () => {
  /** The service on a context that goes as far as the constructor; its invalidations are spied on. */
  function service() {
    const cache = new CatalogCacheService(
      new DomainCacheContext(undefined as never, undefined as never, new DomainRegistry()),
    );
    return {
      cache,
      invalidate: jest.spyOn(cache, 'invalidate').mockResolvedValue([]),
      invalidateAll: jest.spyOn(cache, 'invalidateAll').mockResolvedValue(0),
    };
  }

  it("maps an event to its change's keys and dependencies, plus the keys its publisher named", () => {
    const named = { ...event('catalog.product.updated', { categoryId: A }), keys: ['catalog:listing:extra'] };
    expect(catalogInvalidationOf(named)).toEqual({
      keys: [`catalog:product:${P}`, 'catalog:categories', 'catalog:listing:extra'],
      dependencies: [`catalog:deps:product:${P}`, `catalog:deps:category:${A}`],
      all: undefined,
    });
    expect(catalogInvalidationOf(event('catalog.product.truncated', {}, '*'))).toMatchObject({ all: true });
    expect(() => catalogInvalidationOf(event('catalog.product.updated', {}, 'not-a-uuid'))).toThrow();
  });

  it('applies a batch as one invalidation: every key and dependency once', async () => {
    const { cache, invalidate, invalidateAll } = service();
    const price = { categoryId: A, previousCategoryId: A, active: true, previousActive: true };
    await cache.invalidateBatch(
      [
        event('catalog.product.updated', price),
        event('catalog.product.updated', price, B),
        event('catalog.product.updated', price),
        event('catalog.stock.updated', {}),
      ].map(catalogInvalidationOf),
    );
    expect(invalidateAll).not.toHaveBeenCalled();
    expect(invalidate).toHaveBeenCalledTimes(1);
    expect(invalidate).toHaveBeenCalledWith(
      [`catalog:product:${P}`, `catalog:product:${B}`, `catalog:availability:${P}`],
      [`catalog:deps:product:${P}`, `catalog:deps:product:${B}`],
    );
  });

  it('drops the whole domain first when a truncate is in the batch, and still the keys of the others', async () => {
    const { cache, invalidate, invalidateAll } = service();
    await cache.invalidateBatch(
      [event('catalog.stock.updated', {}), event('catalog.stock.truncated', {}, '*')].map(catalogInvalidationOf),
    );
    expect(invalidateAll).toHaveBeenCalledTimes(1);
    expect(invalidateAll.mock.invocationCallOrder[0]).toBeLessThan(invalidate.mock.invocationCallOrder[0]);
    expect(invalidate).toHaveBeenCalledWith([`catalog:availability:${P}`], []);
  });
});
