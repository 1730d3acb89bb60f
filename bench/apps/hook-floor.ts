/**
 * The `hook-floor` of the benchmark: the physical limit of answering hits
 * early. A Nest + Fastify app (the BFF's adapter options: no middie) whose
 * `onRequest` hook sends the product's prebuilt bytes from a Map with one
 * writeHead and one end, before anything of Nest runs. It does nothing a hit
 * needs beyond that (no ETag, X-Cache, request id, log or metrics), so the
 * BFF's L1 hits are measured as a fraction of this.
 */
import 'reflect-metadata';
import { Controller, Get, Module, NotFoundException } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { readFileSync } from 'node:fs';

/** Anything the hook does not answer (an unknown id) falls through to this route, as a cache miss would. */
@Controller('catalog/products')
class HookFloorController {
  @Get(':id')
  get(): never {
    throw new NotFoundException();
  }
}

@Module({ controllers: [HookFloorController] })
class HookFloorModule {}

async function main(): Promise<void> {
  const list = JSON.parse(readFileSync(process.env.BENCH_PRODUCTS_FILE!, 'utf8')) as { id: string }[];
  const bytes = new Map(list.map((p) => [p.id, Buffer.from(JSON.stringify(p))]));
  const adapter = new FastifyAdapter({ skipMiddie: true });
  adapter.getInstance().addHook('onRequest', (request, reply, done) => {
    const body = bytes.get((request.params as { id?: string }).id ?? '');
    if (!body) return done();
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    reply.raw.end(body);
  });
  const app = await NestFactory.create<NestFastifyApplication>(HookFloorModule, adapter, { logger: ['error'] });
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
