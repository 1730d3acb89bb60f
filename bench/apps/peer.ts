/**
 * The `peer` of the benchmark: the same product route cached the way most
 * NestJS services do it, with @nestjs/cache-manager's CacheInterceptor on
 * Redis (Keyv), reading Postgres on a miss. cachegate's L2 hits are compared
 * with this. Entries live `CACHE_TTL_MS` (default 10 minutes); its own
 * writes (the workload's `api` writes) delete the entry they change, as
 * cache-manager's documentation does it. Nothing else expires them.
 */
import 'reflect-metadata';
import KeyvRedis from '@keyv/redis';
import { CACHE_MANAGER, CacheInterceptor, CacheModule } from '@nestjs/cache-manager';
import type { Cache } from 'cache-manager';
import {
  Body,
  Controller,
  Get,
  Inject,
  Module,
  NotFoundException,
  Param,
  Patch,
  UseInterceptors,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Keyv } from 'keyv';
import { Pool } from 'pg';
import { selectProduct, updatePrice } from './product-rows';

const POOL = Symbol('POOL');

@Controller('catalog/products')
@UseInterceptors(CacheInterceptor)
class PeerController {
  constructor(
    @Inject(POOL) private readonly pool: Pool,
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
  ) {}

  @Get(':id')
  async get(@Param('id') id: string): Promise<unknown> {
    const product = await selectProduct(this.pool, id);
    if (!product) throw new NotFoundException();
    return product;
  }

  /** A price write through the API: UPDATE, then delete the entry (the interceptor's key is the URL). */
  @Patch(':id')
  async update(@Param('id') id: string, @Body() body: { priceCents: number }): Promise<{ priceCents: number }> {
    const written = await updatePrice(this.pool, id, body.priceCents);
    await this.cache.del(`/catalog/products/${id}`);
    return written;
  }
}

@Module({
  imports: [
    CacheModule.registerAsync({
      useFactory: () => ({
        stores: [
          new Keyv({ store: new KeyvRedis(process.env.REDIS_URL), namespace: `${process.env.CACHE_KEY_PREFIX}peer` }),
        ],
        ttl: Number(process.env.CACHE_TTL_MS ?? 600_000),
      }),
    }),
  ],
  controllers: [PeerController],
  providers: [{ provide: POOL, useFactory: () => new Pool({ connectionString: process.env.DATABASE_URL, max: 10 }) }],
})
class PeerModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(PeerModule, new FastifyAdapter(), { logger: ['error'] });
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
