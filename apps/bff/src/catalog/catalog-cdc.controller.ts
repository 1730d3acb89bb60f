import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { CdcEvent, CdcEventPattern } from '@app/cdc';
import { CatalogCacheService } from './catalog-cache.service';

/**
 * Catalog change events (docs/contract.md §6.3), a batch at a time: together they drop exactly the views they make
 * stale, on every instance, as one invalidation (each key and dependency once).
 */
@Controller()
export class CatalogCdcController {
  constructor(private readonly cache: CatalogCacheService) {}

  @CdcEventPattern('cdc.catalog.v1')
  async onCatalogChanges(@Payload() events: CdcEvent[]): Promise<void> {
    await this.cache.applyEvents(events);
  }
}
