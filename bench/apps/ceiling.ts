/**
 * The `ceiling` of the benchmark: a bare Nest + Fastify route answering the
 * same product JSON from a Map. Nothing can be faster through Nest, so the
 * BFF's cache hits are measured as a fraction of this.
 */
import 'reflect-metadata';
import { Controller, Get, Inject, Module, NotFoundException, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { readFileSync } from 'node:fs';

const PRODUCTS = Symbol('PRODUCTS');

@Controller('catalog/products')
class CeilingController {
  constructor(@Inject(PRODUCTS) private readonly products: Map<string, unknown>) {}

  @Get(':id')
  get(@Param('id') id: string): unknown {
    const product = this.products.get(id);
    if (!product) throw new NotFoundException();
    return product;
  }
}

@Module({
  controllers: [CeilingController],
  providers: [
    {
      provide: PRODUCTS,
      useFactory: () => {
        const list = JSON.parse(readFileSync(process.env.BENCH_PRODUCTS_FILE!, 'utf8')) as { id: string }[];
        return new Map(list.map((p) => [p.id, p]));
      },
    },
  ],
})
class CeilingModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(CeilingModule, new FastifyAdapter(), {
    logger: ['error'],
  });
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
