/**
 * `npm run bench [-- --quick] [--only throughput,cdc,workload]`: every scenario of
 * docs/contract.md §10 in one run against the real PostgreSQL and Redis, so the ratios
 * compare. Writes bench/results/latest.{md,json,svg} and latest-workload.svg. `--quick`
 * (CI) keeps it short and asserts nothing about speed. `--only` runs the named parts
 * (`cdc`: invalidation lag, coalescing and bulk) and prints their tables without
 * touching bench/results, whose files stay those of a whole run.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { measureBulk } from './bulk';
import { measureCoalescing } from './coalescing';
import { measureInvalidationLag } from './invalidation-lag';
import { loadSettings } from './settings';
import { BenchReport, renderMarkdown, writeReport } from './report';
import { BenchDatabase } from './bench-database';
import { BFF_ENTRY, BFF_MAIN, BenchServer, ROOT, startServer, tsApp } from './servers';
import { measureThroughput, Scenario } from './throughput';
import { measureWorkload, WorkloadSystem } from './workload';

const quick = process.argv.includes('--quick');
const PARTS = ['throughput', 'cdc', 'workload'] as const;
const only = ((): Set<string> | null => {
  const i = process.argv.indexOf('--only');
  if (i < 0) return null;
  const names = (process.argv[i + 1] ?? '').split(',');
  const unknown = names.filter((n) => !(PARTS as readonly string[]).includes(n));
  if (unknown.length > 0)
    throw new Error(`--only takes ${PARTS.join(', ')} (comma-separated), not ${unknown.join(', ')}`);
  return new Set(names);
})();
const runs = (part: (typeof PARTS)[number]) => only === null || only.has(part);
const settings = {
  ...loadSettings(quick),
  lagSeconds: quick ? 2 : 10,
  /** `bulk`: rows one statement changes, and how many of them are cached on both instances (besides every listing). */
  bulkRows: quick ? 5000 : 100_000,
  bulkWarmProducts: quick ? 1000 : 5000,
  workload: {
    products: 100_000,
    zipfS: 1,
    seconds: quick ? 3 : 20,
    concurrency: 32,
    writeShare: 0.01,
    ttlSeconds: 60,
    seed: 16,
  },
};

const step = (message: string) => process.stdout.write(`▸ ${message}\n`);

async function main(): Promise<void> {
  if (!existsSync(path.join(ROOT, BFF_ENTRY))) throw new Error('build first: npm run build');
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
  const stopAll = async () => {
    for (const server of [...servers]) await stop(server);
  };
  try {
    const env = db.env();
    step(`database ${db.name}, redis prefix ${db.prefix}`);
    step(
      `load generator: ${settings.generator}${settings.generator === 'wrk' ? '' : ' (fallback: wrk is not installed)'}`,
    );

    // Every part needs the schema; throughput and the CDC scenarios also read the demo products.
    step('starting the BFF with demo data');
    const bff = await start('l1-hit', BFF_MAIN, { ...env, NODE_ENV: 'development' });
    const listing = (await (await fetch(`${bff.url}/catalog/categories/coffee/products`)).json()) as {
      products: { id: string }[];
    };
    const ids = listing.products.map((p) => p.id);
    const report: BenchReport = {
      startedAt: new Date().toISOString(),
      quick,
      machine: { node: process.version, cpus: os.cpus().length },
      settings,
    };

    if (runs('throughput')) report.throughput = await throughput(bff, ids, env, start);
    await stopAll();

    if (runs('cdc')) {
      step('two BFF instances for invalidation lag, coalescing and bulk');
      const a = await start('bff-a', BFF_MAIN, { ...env, CDC_CONSUMER_NAME: 'bench-a' });
      const b = await start('bff-b', BFF_MAIN, { ...env, CDC_CONSUMER_NAME: 'bench-b' });
      report.invalidationLag = await measureInvalidationLag({
        db,
        instances: [a, b],
        productIds: ids,
        writesPerSecond: settings.writesPerSecond,
        durationSeconds: settings.lagSeconds,
        log: step,
      });
      report.coalescing = await measureCoalescing({ db, instances: [a, b], requests: 1000, log: step });
      report.bulk = await measureBulk({
        db,
        instances: [a, b],
        rows: settings.bulkRows,
        warmProducts: settings.bulkWarmProducts,
        singleRowIds: ids,
        singleRowWritesPerSecond: settings.writesPerSecond,
        singleRowSeconds: quick ? 1 : 2,
        log: step,
      });
      await stopAll();
    }

    if (runs('workload')) {
      // Plain-SQL writes (only CDC sees them), then the same load with writes through each system's API.
      report.workload = await measureWorkload({
        db,
        systems: workloadSystems(env, start),
        settings: { ...settings.workload, writes: 'sql' },
        log: step,
      });
      report.workloadApi = await measureWorkload({
        db,
        systems: workloadSystems(env, start),
        settings: { ...settings.workload, writes: 'api' },
        log: step,
      });
    }

    if (only === null) {
      const markdown = writeReport(report, path.join(ROOT, 'bench/results'));
      process.stdout.write(`\n${markdown}\nwritten to bench/results/latest.{md,json,svg} and latest-workload.svg\n`);
    } else {
      process.stdout.write(`\n${renderMarkdown(report)}\n(--only: bench/results left as it was)\n`);
    }
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await db.drop();
  }
}

type Start = (...args: Parameters<typeof startServer>) => Promise<BenchServer>;

/** The scenarios of the throughput table, all servers up at once, measured in interleaved rounds. */
async function throughput(bff: BenchServer, ids: string[], env: Record<string, string>, start: Start) {
  const paths = ids.map((id) => `/catalog/products/${id}`);
  const productsFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'cachegate-bench-')), 'products.json');
  writeFileSync(
    productsFile,
    JSON.stringify(await Promise.all(paths.map(async (p) => (await fetch(bff.url + p)).json()))),
  );

  step('starting the references, the peers, and BFFs without L1 and without the cache');
  const missingProduct = '/catalog/products/00000000-0000-4000-8000-000000000000';
  const [fastify, hookFloor, ceiling, l2, peer, bentocache, miss] = await Promise.all([
    start('fastify', tsApp('fastify.ts'), { BENCH_PRODUCTS_FILE: productsFile }, '/catalog/products/none'),
    start('hook-floor', tsApp('hook-floor.ts'), { BENCH_PRODUCTS_FILE: productsFile }, '/catalog/products/none'),
    start('ceiling', tsApp('ceiling.ts'), { BENCH_PRODUCTS_FILE: productsFile }, '/catalog/products/none'),
    start('l2-hit', BFF_MAIN, { ...env, L1_ENABLED: 'false' }),
    start('peer', tsApp('peer.ts'), env, missingProduct),
    start('bentocache', tsApp('bentocache.ts'), env, missingProduct),
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
    { name: 'l1-hit', description: 'GET /catalog/products/:id, warm L1', server: bff, answeredBy: 'l1Hits' },
    { name: 'l2-hit', description: 'same, L1_ENABLED=false (Redis hit)', server: l2, answeredBy: 'l2Hits' },
    { name: 'peer', description: '@nestjs/cache-manager CacheInterceptor on Redis', server: peer },
    {
      name: 'bentocache',
      description: 'bentocache getOrSet, L1 memory + L2 Redis + Redis bus',
      server: bentocache,
    },
    { name: 'miss', description: 'CACHE_ENABLED=false: every read from Postgres', server: miss },
  ];
  return measureThroughput(scenarios, { paths, ...settings, log: step });
}

/** The workload's systems, two instances each: cachegate with CDC, the peers with the workload's TTL. */
function workloadSystems(env: Record<string, string>, start: Start): WorkloadSystem[] {
  const missingProduct = '/catalog/products/00000000-0000-4000-8000-000000000000';
  const ttl = { CACHE_TTL_MS: String(settings.workload.ttlSeconds * 1000) };
  const pair = (name: string, launch: (instance: string) => Promise<BenchServer>) => () =>
    Promise.all(['a', 'b'].map((instance) => launch(`${name}-${instance}`)));
  return [
    {
      name: 'cachegate',
      description: 'the BFF, relay and subscriber on (CDC invalidation), L1 + L2',
      start: pair('cachegate', (name) => start(name, BFF_MAIN, { ...env, CDC_CONSUMER_NAME: `workload-${name}` })),
    },
    {
      name: 'peer',
      description: `@nestjs/cache-manager on Redis, TTL ${settings.workload.ttlSeconds} s`,
      start: pair('peer', (name) => start(name, tsApp('peer.ts'), { ...env, ...ttl }, missingProduct)),
    },
    {
      name: 'bentocache',
      description: `bentocache L1 + L2 + bus, TTL ${settings.workload.ttlSeconds} s`,
      start: pair('bentocache', (name) => start(name, tsApp('bentocache.ts'), { ...env, ...ttl }, missingProduct)),
    },
  ];
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
