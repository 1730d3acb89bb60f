/**
 * `npm run bench [-- --quick]`: every scenario of docs/contract.md §10 in one run against
 * the real PostgreSQL and Redis, so the ratios compare. Writes
 * bench/results/latest.{md,json,svg}. `--quick` (CI) keeps it under a minute
 * and asserts nothing about speed.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { measureBulk } from './bulk';
import { measureCoalescing } from './coalescing';
import { measureInvalidationLag } from './invalidation-lag';
import { availableGenerator } from './load';
import { BenchReport, writeReport } from './report';
import { BenchDatabase } from './bench-database';
import { BFF_MAIN, BenchServer, ROOT, startServer, tsApp } from './servers';
import { measureThroughput, Scenario } from './throughput';

const quick = process.argv.includes('--quick');
const settings = {
  connections: quick ? 20 : 50,
  rounds: quick ? 1 : 9,
  roundSeconds: quick ? 2 : 4,
  warmupSeconds: quick ? 1 : 3,
  writesPerSecond: 500,
  lagSeconds: quick ? 2 : 10,
  /** `bulk`: rows one statement changes, and how many of them are cached on both instances (besides every listing). */
  bulkRows: quick ? 5000 : 100_000,
  bulkWarmProducts: quick ? 1000 : 5000,
  /** wrk where installed (apt-get install wrk), else autocannon: the report says which ran. */
  generator: availableGenerator(),
};

const step = (message: string) => process.stdout.write(`▸ ${message}\n`);

async function main(): Promise<void> {
  if (!existsSync(path.join(ROOT, BFF_MAIN[0]))) throw new Error('build first: npm run build');
  const db = await BenchDatabase.create();
  const servers: BenchServer[] = [];
  const start = async (...args: Parameters<typeof startServer>) => {
    const server = await startServer(...args);
    servers.push(server);
    return server;
  };
  const stop = async (server: BenchServer) => {
    await server.stop();
    servers.splice(servers.indexOf(server), 1);
  };
  try {
    const env = db.env();
    step(`database ${db.name}, redis prefix ${db.prefix}`);
    step(
      `load generator: ${settings.generator}${settings.generator === 'wrk' ? '' : ' (fallback: wrk is not installed)'}`,
    );

    step('starting the BFF with demo data');
    const bff = await start('l1-hit', BFF_MAIN, { ...env, NODE_ENV: 'development' });
    const listing = (await (await fetch(`${bff.url}/catalog/categories/coffee/products`)).json()) as {
      products: { id: string }[];
    };
    const ids = listing.products.map((p) => p.id);
    const paths = ids.map((id) => `/catalog/products/${id}`);
    const productsFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'cachegate-bench-')), 'products.json');
    writeFileSync(
      productsFile,
      JSON.stringify(await Promise.all(paths.map(async (p) => (await fetch(bff.url + p)).json()))),
    );

    step('starting the references, the peer, and BFFs without L1 and without the cache');
    const [fastify, hookFloor, ceiling, l2, peer, miss] = await Promise.all([
      start('fastify', tsApp('fastify.ts'), { BENCH_PRODUCTS_FILE: productsFile }, '/catalog/products/none'),
      start('hook-floor', tsApp('hook-floor.ts'), { BENCH_PRODUCTS_FILE: productsFile }, '/catalog/products/none'),
      start('ceiling', tsApp('ceiling.ts'), { BENCH_PRODUCTS_FILE: productsFile }, '/catalog/products/none'),
      start('l2-hit', BFF_MAIN, { ...env, L1_ENABLED: 'false' }),
      start('peer', tsApp('peer.ts'), env, '/catalog/products/00000000-0000-4000-8000-000000000000'),
      start('miss', BFF_MAIN, { ...env, CACHE_ENABLED: 'false' }),
    ]);
    const scenarios: Scenario[] = [
      { name: 'fastify', description: 'bare Fastify route (no Nest, no cache), JSON from a Map', server: fastify },
      {
        name: 'hook-floor',
        description: 'Nest + Fastify, onRequest hook sends prebuilt bytes from a Map',
        server: hookFloor,
      },
      { name: 'ceiling', description: 'bare Nest + Fastify route, JSON from a Map', server: ceiling },
      { name: 'l1-hit', description: 'GET /catalog/products/:id, warm L1', server: bff },
      { name: 'l2-hit', description: 'same, L1_ENABLED=false (Redis hit)', server: l2 },
      { name: 'peer', description: '@nestjs/cache-manager CacheInterceptor on Redis', server: peer },
      { name: 'miss', description: 'CACHE_ENABLED=false: every read from Postgres', server: miss },
    ];
    const rows = await measureThroughput(scenarios, { paths, ...settings, log: step });
    for (const server of [...servers]) await stop(server);

    step('two BFF instances for invalidation lag, coalescing and bulk');
    const a = await start('bff-a', BFF_MAIN, { ...env, CDC_CONSUMER_NAME: 'bench-a' });
    const b = await start('bff-b', BFF_MAIN, { ...env, CDC_CONSUMER_NAME: 'bench-b' });
    const invalidationLag = await measureInvalidationLag({
      db,
      instances: [a, b],
      productIds: ids,
      writesPerSecond: settings.writesPerSecond,
      durationSeconds: settings.lagSeconds,
      log: step,
    });
    const coalescing = await measureCoalescing({ db, instances: [a, b], requests: 1000, log: step });
    const bulk = await measureBulk({
      db,
      instances: [a, b],
      rows: settings.bulkRows,
      warmProducts: settings.bulkWarmProducts,
      singleRowIds: ids,
      singleRowWritesPerSecond: settings.writesPerSecond,
      singleRowSeconds: quick ? 1 : 2,
      log: step,
    });

    const report: BenchReport = {
      startedAt: new Date().toISOString(),
      quick,
      machine: { node: process.version, cpus: os.cpus().length },
      settings,
      throughput: rows,
      invalidationLag,
      coalescing,
      bulk,
    };
    const markdown = writeReport(report, path.join(ROOT, 'bench/results'));
    process.stdout.write(`\n${markdown}\nwritten to bench/results/latest.{md,json,svg}\n`);
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await db.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
