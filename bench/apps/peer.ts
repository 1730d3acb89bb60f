/**
 * The `peer` of the benchmark: the same product route cached the way most
 * NestJS services do it, with @nestjs/cache-manager's CacheInterceptor on
 * Redis (Keyv), reading Postgres on a miss. cachegate's L2 hits are compared
 * with this. Entries live `CACHE_TTL_MS` (default 10 minutes); nothing else
 * expires them.
 */
import 'reflect-metadata';
import KeyvRedis from '@keyv/redis';
import { CacheInterceptor, CacheModule } from '@nestjs/cache-manager';
import { Controller, Get, Inject, Module, NotFoundException, Param, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Keyv } from 'keyv';
import { Pool } from 'pg';

const POOL = Symbol('POOL');

@Controller('catalog/products')
@UseInterceptors(CacheInterceptor)
class PeerController {
  constructor(@Inject(POOL) private readonly pool: Pool) {}

  @Get(':id')
  async get(@Param('id') id: string): Promise<unknown> {
    const { rows } = await this.pool.query(
      `SELECT id, sku, name, description, price_cents AS "priceCents", currency, category_id AS "categoryId",
              active, version, updated_at AS "updatedAt"
         FROM catalog.products WHERE id = $1`,
      [id],
    );
    if (rows.length === 0) throw new NotFoundException();
    return rows[0];
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
