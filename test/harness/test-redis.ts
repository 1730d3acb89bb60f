import Redis from 'ioredis';
import { createRedisClient, groupBySlot, isCluster, masterConnections, redisTopology, RedisTopology } from '@app/redis';
import { RedisCluster } from '../../tools/redis-cluster';
import { TcpProxy } from '../../tools/tcp-proxy';
import { TEST_REDIS_URL } from './test-database';

/**
 * The Redis every e2e test runs on unless it starts its own: the server at TEST_REDIS_URL, or, in a run started
 * with TEST_REDIS_CLUSTER=1 (`npm run test:e2e:cluster`), a local Redis Cluster of 3 masters + 3 replicas
 * (tools/redis-cluster.ts) that the global setup starts once for the whole run and hands to the workers in
 * CLUSTER_NODES_VARIABLE. Test files share it as they share the single server: each has its own key prefix.
 */
const CLUSTER_NODES_VARIABLE = 'CACHEGATE_TEST_REDIS_CLUSTER_NODES';

/** Where the run's cluster is kept between the global setup and the global teardown (they share only globals). */
const RUN_CLUSTER = Symbol.for('cachegate.test.redisCluster');

/** TEST_REDIS_CLUSTER asks for the cluster: `1` or `true`; unset, empty, `0` or `false` is the single server. */
function clusterRequested(): boolean {
  const value = (process.env.TEST_REDIS_CLUSTER ?? '').trim().toLowerCase();
  if (value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new Error(`TEST_REDIS_CLUSTER=${process.env.TEST_REDIS_CLUSTER}: expected 1 (or unset for a single Redis)`);
}

/** Global setup: starts the run's cluster when TEST_REDIS_CLUSTER asks for one, and tells the workers where it is. */
export async function startRunRedis(): Promise<void> {
  if (!clusterRequested()) return;
  const cluster = await RedisCluster.start();
  (globalThis as Record<symbol, unknown>)[RUN_CLUSTER] = cluster;
  process.env[CLUSTER_NODES_VARIABLE] = cluster.nodeList;
}

/** Global teardown: stops the run's cluster, if it started one. */
export async function stopRunRedis(): Promise<void> {
  const cluster = (globalThis as Record<symbol, unknown>)[RUN_CLUSTER] as RedisCluster | undefined;
  await cluster?.stop();
}

/** The topology of the test Redis: the run's cluster, or the single server at TEST_REDIS_URL. */
export function testRedisTopology(): RedisTopology {
  return redisTopology({ REDIS_URL: TEST_REDIS_URL, REDIS_CLUSTER_NODES: process.env[CLUSTER_NODES_VARIABLE] });
}

/**
 * "No cluster", said outright (an empty value counts as unset): an app leaves the settings it booted with in
 * process.env (@nestjs/config copies them there), where the configuration of the next app this test process
 * starts, or of a child process it spawns, would find another app's REDIS_CLUSTER_NODES.
 */
export const NO_CLUSTER = { REDIS_CLUSTER_NODES: '' } as const;

/** The environment that puts an app on the test Redis: REDIS_URL, and REDIS_CLUSTER_NODES in a cluster run. */
export function testRedisEnv(): Record<string, string> {
  const nodes = process.env[CLUSTER_NODES_VARIABLE];
  return { REDIS_URL: TEST_REDIS_URL, ...(nodes ? { REDIS_CLUSTER_NODES: nodes } : NO_CLUSTER) };
}

/**
 * A plain client for looking at raw values and streams as an outsider: on the test Redis (an ioredis `Cluster`
 * in a cluster run, typed as `Redis` as libs/redis makes them: the keys of one command or pipeline must share
 * a hash slot, and SCAN needs scanAll), or on the single server at `url`. Disconnect it when done.
 */
export function rawRedis(url?: string): Redis {
  const redis = createRedisClient(url === undefined ? testRedisTopology() : { kind: 'single', url }, {
    name: 'cachegate-test',
    maxRetriesPerRequest: 1,
    retryDelayMs: (attempt) => Math.min(attempt * 100, 1000),
  });
  // A test may stop the server under it (failure tests): what matters is what the commands answer.
  redis.on('error', () => undefined);
  return redis;
}

/** Every name matching `pattern`, on every master (one SCAN sees one node's names). */
export async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  // A cluster client knows its masters once it has the slot map: a first command waits for that.
  await redis.ping();
  const names: string[] = [];
  for (const node of masterConnections(redis)) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      names.push(...batch);
      cursor = next;
    } while (cursor !== '0');
  }
  return names;
}

/** UNLINKs `names`: at once on a single server, one call per hash slot on a cluster (a command's keys share one). */
export async function unlinkAll(redis: Redis, names: string[]): Promise<void> {
  const calls = isCluster(redis) ? groupBySlot(names) : [names];
  await Promise.all(calls.filter((group) => group.length > 0).map((group) => redis.unlink(...group)));
}

/**
 * A proxy in front of the single test Redis, so one app's Redis connections can be partitioned or held. A
 * proxy cannot stand in front of a Redis Cluster (a client follows the nodes' own addresses), so tests that
 * use it run on the single server in a cluster run too: an app given a REDIS_URL gets no cluster (TestContext).
 */
export async function proxyToTestRedis(): Promise<TcpProxy> {
  const target = new URL(TEST_REDIS_URL);
  return TcpProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
}
