/**
 * `npm run build && node -r ts-node/register/transpile-only bench/cluster.ts [--quick]`: L2 hits and single-row
 * invalidation lag on a local Redis Cluster (tools/redis-cluster.ts: 3 masters + 3 replicas, REDIS_CLUSTER_NODES)
 * beside the same figures on the single Redis the bench uses (docs/BENCHMARKS.md "Redis Cluster"). Prints its
 * tables; writes nothing.
 *
 * - L2 hits: a BFF with `L1_ENABLED=false` on each, measured in interleaved rounds (bench/throughput.ts), so the
 *   ratio of the two is taken between neighbouring measurements of the same round.
 * - Invalidation lag: two BFFs (relay and subscriber on) on each, each pair with its own database, plain-SQL
 *   UPDATEs of single products (bench/invalidation-lag.ts) in rounds that alternate between the two; on the
 *   cluster the relay WAITs for a replica before an append counts, and the invalidation's fence writes each WAIT
 *   for one (REDIS_CLUSTER_WAIT_REPLICAS=1).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { RedisCluster } from '../tools/redis-cluster';
import { BenchDatabase } from './bench-database';
import { measureInvalidationLag } from './invalidation-lag';
import { loadSettings } from './settings';
import { BFF_ENTRY, BFF_MAIN, BenchServer, ROOT, startServer } from './servers';
import { measureThroughput } from './throughput';

const quick = process.argv.includes('--quick');
const settings = {
  ...loadSettings(quick),
  lagRounds: quick ? 1 : 3,
  lagSeconds: quick ? 2 : 5,
};

const step = (message: string) => process.stdout.write(`▸ ${message}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (value: number | null | undefined) => (value === null || value === undefined ? '–' : value.toFixed(1));

async function main(): Promise<void> {
  if (!existsSync(path.join(ROOT, BFF_ENTRY))) throw new Error('build first: npm run build');
  const db = await BenchDatabase.create('clusterbench');
  const databases = [db];
  const cluster = await RedisCluster.start();
  const servers: BenchServer[] = [];
  const start = async (...args: Parameters<typeof startServer>) => {
    const server = await startServer(...args);
    servers.push(server);
    return server;
  };
  const stopAll = async () => {
    for (const server of servers.splice(0)) await server.stop();
  };
  try {
    const single = db.env();
    const onCluster = { ...single, REDIS_CLUSTER_NODES: cluster.nodeList };
    step(`database ${db.name}, prefix ${db.prefix}; single Redis ${single.REDIS_URL}, cluster ${cluster.nodeList}`);
    step(`load generator: ${settings.generator}`);

    // The first BFF migrates and seeds the demo data; no CDC while only reads run (two relays would publish
    // the seed's events to one of the two Redis setups, whichever took the lead).
    const noCdc = { CDC_RELAY: 'false', CDC_SUBSCRIBER: 'false', L1_ENABLED: 'false' };
    const l2Single = await start('l2-hit', BFF_MAIN, { ...single, ...noCdc, NODE_ENV: 'development' });
    const l2Cluster = await start('l2-hit-cluster', BFF_MAIN, { ...onCluster, ...noCdc });
    const listing = (await (await fetch(`${l2Single.url}/catalog/categories/coffee/products`)).json()) as {
      products: { id: string }[];
    };
    const ids = listing.products.map((p) => p.id);
    const rows = await measureThroughput(
      [
        { name: 'l2-hit', description: 'L1_ENABLED=false, one Redis', server: l2Single },
        { name: 'l2-hit-cluster', description: 'L1_ENABLED=false, Redis Cluster', server: l2Cluster },
      ],
      { paths: ids.map((id) => `/catalog/products/${id}`), ...settings, log: step },
    );
    await stopAll();
    const [singleRow, clusterRow] = rows;
    const ratio = median(clusterRow.rounds.map((rps, round) => rps / singleRow.rounds[round]));

    // Each setup gets its own database for the lag: two relays on one outbox would publish its rows to whichever
    // Redis their leader uses. Both pairs stay up, and the setups take turns, round by round (the first round
    // starts with one, the next with the other), so that the machine's drift hits both alike.
    const lagDb = await BenchDatabase.create('clusterlag');
    databases.push(lagDb);
    const pair = async (name: string, database: BenchDatabase, env: Record<string, string>, seed: boolean) => {
      const first = await start(`${name}-a`, BFF_MAIN, {
        ...env,
        CDC_CONSUMER_NAME: `bench-${name}-a`,
        ...(seed ? { NODE_ENV: 'development' } : {}),
      });
      const second = await start(`${name}-b`, BFF_MAIN, { ...env, CDC_CONSUMER_NAME: `bench-${name}-b` });
      const products = (await (await fetch(`${first.url}/catalog/categories/coffee/products`)).json()) as {
        products: { id: string }[];
      };
      return { name, db: database, instances: [first, second], ids: products.products.map((p) => p.id) };
    };
    step('two BFF instances on each setup for the invalidation lag');
    // Classic pub/sub reaches every node of a cluster: the bench's subscriber listens on any one of them.
    const [node] = cluster.startupNodes;
    const setups = [
      { ...(await pair('single', db, single, false)), subscribeUrl: undefined, label: 'one Redis' },
      {
        ...(await pair('cluster', lagDb, { ...lagDb.env(), REDIS_CLUSTER_NODES: cluster.nodeList }, true)),
        subscribeUrl: `redis://${node.host}:${node.port}`,
        label: 'Redis Cluster',
      },
    ];
    const lagRounds = setups.map(() => [] as Awaited<ReturnType<typeof measureInvalidationLag>>[]);
    for (let round = 0; round < settings.lagRounds; round++) {
      for (let i = 0; i < setups.length; i++) {
        const index = (round + i) % setups.length;
        const setup = setups[index];
        lagRounds[index].push(
          await measureInvalidationLag({
            db: setup.db,
            instances: setup.instances,
            productIds: setup.ids,
            writesPerSecond: settings.writesPerSecond,
            durationSeconds: settings.lagSeconds,
            subscribeUrl: setup.subscribeUrl,
            log: (message) => step(`${setup.name}, round ${round + 1}: ${message}`),
          }),
        );
      }
    }
    await stopAll();

    const lines = [
      `# Redis Cluster beside one Redis${quick ? ' (quick run: not for comparison)' : ''}`,
      '',
      `${new Date().toISOString()} · node ${process.version} · ${settings.connections} connections · ` +
        `${settings.rounds} interleaved round(s) of ${settings.roundSeconds} s · ${settings.generator}`,
      '',
      '| scenario | req/s | p50 ms | p99 ms | CPU µs/req | rounds (req/s) |',
      '|---|---:|---:|---:|---:|---|',
      ...rows.map(
        (r) =>
          `| ${r.scenario} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.serverCpuUsPerRequest ?? '–'} | ` +
          `${r.rounds.join(', ')} |`,
      ),
      '',
      `l2-hit-cluster × l2-hit: ${ratio.toFixed(2)} (median of the per-round ratios)`,
      '',
      `Invalidation lag, ${settings.writesPerSecond} writes/s, ${settings.lagRounds} round(s) of ${settings.lagSeconds} s ` +
        "per setup, interleaved: commit → invalidation message (p50 / p99 ms) per round, and each instance's own " +
        '(occurredAt → L2 deleted, p50 / p99 ms, over the whole run, /health/cdc)',
      '',
      '| setup | median p50 | median p99 | rounds p50 / p99 | seen / writes | by the instances |',
      '|---|---:|---:|---|---:|---|',
      ...setups.map((setup, i) => {
        const rounds = lagRounds[i];
        const last = rounds[rounds.length - 1];
        return (
          `| ${setup.label} | ${ms(median(rounds.map((r) => r.clientMs.p50)))} | ` +
          `${ms(median(rounds.map((r) => r.clientMs.p99)))} | ` +
          `${rounds.map((r) => `${ms(r.clientMs.p50)} / ${ms(r.clientMs.p99)}`).join(', ')} | ` +
          `${rounds.reduce((n, r) => n + r.observed, 0)} / ${rounds.reduce((n, r) => n + r.writes, 0)} | ` +
          Object.entries(last.serverMs)
            .map(([instance, s]) => `${instance} ${ms(s.p50)} / ${ms(s.p99)}`)
            .join(', ') +
          ' |'
        );
      }),
    ];
    process.stdout.write(`\n${lines.join('\n')}\n`);
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await cluster.stop();
    for (const database of databases) await database.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
