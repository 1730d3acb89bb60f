/**
 * The second peer of the benchmark: the same product route read through
 * bentocache's `getOrSet`, with an L1 memory driver, an L2 Redis driver and
 * its Redis bus (which tells the other instances to drop their L1 copy when
 * one of them sets a key), reading Postgres on a miss. Entries live
 * `CACHE_TTL_MS` (default 10 minutes, the `peer`'s); its own writes (the
 * workload's `api` writes) delete the entry they change, which bentocache's
 * bus carries to the other instances' L1. Nothing else expires them.
 *
 * bentocache is ESM-only; Node 20.19+ loads it through `require()`, which is
 * what this CommonJS file compiles to.
 */
import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  Inject,
  Module,
  NotFoundException,
  OnModuleDestroy,
  Param,
  Patch,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { selectProduct, updatePrice } from './product-rows';

const POOL = Symbol('POOL');
const CACHE = Symbol('CACHE');

/** The product row as the other servers of the bench answer it. */
type Product = Record<string, unknown>;

@Controller('catalog/products')
class BentocacheController implements OnModuleDestroy {
  constructor(
    @Inject(POOL) private readonly pool: Pool,
    @Inject(CACHE) private readonly cache: BentoCache<Record<string, ReturnType<typeof bentostore>>>,
  ) {}

  @Get(':id')
  async get(@Param('id') id: string): Promise<Product> {
    const product = await this.cache.getOrSet<Product | undefined>({
      key: `product:${id}`,
      factory: async (ctx) => {
        const row = await selectProduct(this.pool, id);
        // A missing product is not cached, as the peer's CacheInterceptor caches no 404.
        return row ?? ctx.skip();
      },
    });
    if (!product) throw new NotFoundException();
    return product;
  }

  /** A price write through the API: UPDATE, then delete the entry (L2, this L1, every other L1 by the bus). */
  @Patch(':id')
  async update(@Param('id') id: string, @Body() body: { priceCents: number }): Promise<{ priceCents: number }> {
    const written = await updatePrice(this.pool, id, body.priceCents);
    await this.cache.delete({ key: `product:${id}` });
    return written;
  }

  async onModuleDestroy(): Promise<void> {
    await this.cache.disconnectAll();
    await this.pool.end();
  }
}

function createCache(): BentoCache<Record<string, ReturnType<typeof bentostore>>> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `${process.env.CACHE_KEY_PREFIX ?? ''}bento`;
  // The store's name is also the bus channel's suffix: one per bench run, so two runs on one Redis do not talk.
  const store = prefix;
  const redis = new Redis(redisUrl);
  return new BentoCache({
    default: store,
    prefix,
    ttl: Number(process.env.CACHE_TTL_MS ?? 600_000),
    stores: {
      [store]: bentostore()
        // The same L1 budget as the BFF's default L1_MAX_BYTES.
        .useL1Layer(memoryDriver({ maxSize: '64mb', maxItems: 1_000_000 }))
        .useL2Layer(redisDriver({ connection: redis }))
        // The bus duplicates the connection for its publisher and its subscriber.
        .useBus(redisBusDriver({ connection: redis })),
    },
  });
}

@Module({
  controllers: [BentocacheController],
  providers: [
    { provide: POOL, useFactory: () => new Pool({ connectionString: process.env.DATABASE_URL, max: 10 }) },
    { provide: CACHE, useFactory: createCache },
  ],
})
class BentocacheModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(BentocacheModule, new FastifyAdapter(), {
    logger: ['error'],
  });
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
