/**
 * The `fastify` reference of the benchmark: a bare Fastify route (no Nest, no
 * cache) answering the same product JSON from a Map, serialised per request
 * as any Fastify handler's object reply is.
 */
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';

async function main(): Promise<void> {
  const list = JSON.parse(readFileSync(process.env.BENCH_PRODUCTS_FILE!, 'utf8')) as { id: string }[];
  const products = new Map(list.map((p) => [p.id, p]));
  const app = Fastify({ logger: false });
  app.get<{ Params: { id: string } }>('/catalog/products/:id', (request, reply) => {
    const product = products.get(request.params.id);
    if (!product) return void reply.code(404).send({ statusCode: 404, message: 'Not Found' });
    return void reply.send(product);
  });
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
