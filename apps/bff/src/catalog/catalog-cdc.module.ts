import { Module } from '@nestjs/common';
import { CatalogCacheService } from './catalog-cache.service';
import { CatalogCdcController } from './catalog-cdc.controller';

/**
 * The catalog's cache and its CDC handler, without the HTTP API: the BFF's
 * CatalogModule builds on it, and apps/cache-sync runs it on its own.
 */
@Module({
  controllers: [CatalogCdcController],
  providers: [CatalogCacheService],
  exports: [CatalogCacheService],
})
export class CatalogCdcModule {}
