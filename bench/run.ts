/**
 * `npm run bench [-- --quick]`: every scenario of SPEC §10 in one run against
 * the real PostgreSQL and Redis, so the ratios compare. Writes
 * bench/results/latest.{md,json,svg}. `--quick` (CI) keeps it under a minute
 * and asserts nothing about speed.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { measureCoalescing } from './coalescing';
import { measureInvalidationLag } from './invalidation-lag';
import { load } from './load';
import { BenchReport, ThroughputRow, writeReport } from './report';
import { BenchDatabase } from './bench-database';
import { BFF_MAIN, BenchServer, ROOT, startServer, tsApp } from './servers';

const quick = process.argv.includes('--quick');
const settings = {
  connections: quick ? 20 : 50,
  durationSeconds: quick ? 2 : 10,
  writesPerSecond: 500,
};

const step = (message: string) => process.stdout.write(`▸ ${message}\n`);

async function throughput(
  scenario: string,
  description: string,
  server: BenchServer,
  paths: string[],
): Promise<ThroughputRow> {
  // Warm up: fill caches and let the JIT settle before measuring.
  await load({ url: server.url, paths, connections: settings.connections, durationSeconds: quick ? 1 : 3 });
  const result = await load({ url: server.url, paths, ...settings });
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(`${scenario}: ${result.errors} errors, ${result.non2xx} non-2xx responses`);
  }
  step(`${scenario}: ${result.requestsPerSecond} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`);
  return { scenario, description, ...result };
}

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

    const rows: ThroughputRow[] = [];
    const ceiling = await start(
      'ceiling',
      tsApp('ceiling.ts'),
      { BENCH_PRODUCTS_FILE: productsFile },
      '/catalog/products/none',
    );
    rows.push(await throughput('ceiling', 'bare Nest + Fastify route, JSON from a Map', ceiling, paths));
    await stop(ceiling);

    rows.push(await throughput('l1-hit', 'GET /catalog/products/:id, warm L1', bff, paths));
    await stop(bff);

    const l2 = await start('l2-hit', BFF_MAIN, { ...env, L1_ENABLED: 'false' });
    rows.push(await throughput('l2-hit', 'same, L1_ENABLED=false (Redis hit)', l2, paths));
    await stop(l2);

    const peer = await start('peer', tsApp('peer.ts'), env, '/catalog/products/00000000-0000-4000-8000-000000000000');
    rows.push(await throughput('peer', '@nestjs/cache-manager CacheInterceptor on Redis', peer, paths));
    await stop(peer);

    const miss = await start('miss', BFF_MAIN, { ...env, CACHE_ENABLED: 'false' });
    rows.push(await throughput('miss', 'CACHE_ENABLED=false: every read from Postgres', miss, paths));
    await stop(miss);

    step('two BFF instances for invalidation lag and coalescing');
    const a = await start('bff-a', BFF_MAIN, { ...env, CDC_CONSUMER_NAME: 'bench-a' });
    const b = await start('bff-b', BFF_MAIN, { ...env, CDC_CONSUMER_NAME: 'bench-b' });
    const invalidationLag = await measureInvalidationLag({
      db,
      instances: [a, b],
      productIds: ids,
      writesPerSecond: settings.writesPerSecond,
      durationSeconds: settings.durationSeconds,
      log: step,
    });
    const coalescing = await measureCoalescing({ db, instances: [a, b], requests: 1000, log: step });

    const report: BenchReport = {
      startedAt: new Date().toISOString(),
      quick,
      machine: { node: process.version, cpus: os.cpus().length },
      settings,
      throughput: rows,
      invalidationLag,
      coalescing,
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
