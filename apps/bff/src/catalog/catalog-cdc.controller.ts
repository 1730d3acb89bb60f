import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { CdcEvent, CdcEventPattern } from '@app/cdc';
import { CatalogCacheService, catalogChangeFromEvent } from './catalog-cache.service';

/** Catalog change events (SPEC §6.3): each drops exactly the views it makes stale, on every instance. */
@Controller()
export class CatalogCdcController {
  constructor(private readonly cache: CatalogCacheService) {}

  @CdcEventPattern('cdc.catalog.v1')
  async onCatalogChange(@Payload() event: CdcEvent): Promise<void> {
    await this.cache.apply(catalogChangeFromEvent(event), event.keys);
  }
}
