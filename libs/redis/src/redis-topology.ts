import Redis, { Cluster, RedisOptions } from 'ioredis';

/** Where Redis is: one server (REDIS_URL), or a Redis Cluster (REDIS_CLUSTER_NODES, docs/contract.md §5.10). */
export type RedisTopology =
  { kind: 'single'; url: string } | { kind: 'cluster'; nodes: { host: string; port: number }[] };

/** `host:port,host:port` as REDIS_CLUSTER_NODES holds it; throws naming the bad entry. */
export function parseClusterNodes(value: string): { host: string; port: number }[] {
  return value.split(',').map((entry) => {
    const match = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/.exec(entry.trim());
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) throw new Error(`not a host:port: ${JSON.stringify(entry)}`);
    return { host: match[1].replace(/^\[|\]$/g, ''), port };
  });
}

/** The settings the topology comes from: the validated environment, or a ConfigService over it. */
type RedisSettings = { REDIS_URL: string; REDIS_CLUSTER_NODES?: string } | { get(name: string): unknown };

/** The cluster when REDIS_CLUSTER_NODES is set, else the single server at REDIS_URL. */
export function redisTopology(settings: RedisSettings): RedisTopology {
  const read = (name: 'REDIS_URL' | 'REDIS_CLUSTER_NODES') =>
    ('get' in settings && typeof settings.get === 'function' ? settings.get(name) : settings[name as never]) as
      string | undefined;
  const nodes = read('REDIS_CLUSTER_NODES')?.trim();
  return nodes ? { kind: 'cluster', nodes: parseClusterNodes(nodes) } : { kind: 'single', url: read('REDIS_URL')! };
}

/** Where the topology is, for log lines: `127.0.0.1:6379`, or `the Redis Cluster at a:7000,b:7001`. */
export function describeTopology(topology: RedisTopology): string {
  if (topology.kind === 'single') {
    const { host, port } = new URL(topology.url);
    return `${host}:${port || 6379}`;
  }
  return `the Redis Cluster at ${topology.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
}

/** What every connection of ours sets; the rest are ioredis's per-connection options. */
export interface ClientOptions extends Pick<
  RedisOptions,
  | 'commandTimeout'
  | 'connectTimeout'
  | 'maxRetriesPerRequest'
  | 'enableOfflineQueue'
  | 'enableAutoPipelining'
  | 'autoResubscribe'
  | 'lazyConnect'
> {
  name: string;
  /** Delay before reconnect attempt n (ms). */
  retryDelayMs: (attempt: number) => number;
}

/**
 * A client for the topology. On a cluster it is an ioredis `Cluster` (typed as
 * `Redis`: the commands callers use are the same; keys of one call must share a
 * hash slot), which follows MOVED/ASK and refreshes its slot map after a
 * failover.
 */
export function createRedisClient(topology: RedisTopology, options: ClientOptions): Redis {
  const { name, retryDelayMs, enableOfflineQueue, enableAutoPipelining, lazyConnect, ...perConnection } = options;
  if (topology.kind === 'single') {
    return new Redis(topology.url, {
      connectionName: name,
      retryStrategy: retryDelayMs,
      enableOfflineQueue,
      enableAutoPipelining,
      lazyConnect,
      ...perConnection,
    });
  }
  const cluster = new Cluster(topology.nodes, {
    lazyConnect,
    enableOfflineQueue,
    enableAutoPipelining,
    clusterRetryStrategy: retryDelayMs,
    // After a failover the old master refuses or is gone: refresh the slot map and retry soon.
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnMoved: 0,
    slotsRefreshTimeout: 2000,
    // Refreshed periodically below, not by ioredis (0 turns its own off).
    slotsRefreshInterval: 0,
    redisOptions: { connectionName: name, ...perConnection },
  });
  refreshPeriodically(cluster);
  return cluster as unknown as Redis;
}

/** How often a cluster client re-reads the slot map while connected. */
const SLOTS_REFRESH_MS = 5000;

/**
 * Refreshes the slot map every SLOTS_REFRESH_MS while the client is ready: a graceful failover moves slots
 * without closing any connection of ours. Not ioredis's `slotsRefreshInterval`: a `disconnect()` while one of
 * its refreshes is in flight re-arms its timer for good (ioredis 5.11.1), and that timer keeps a process that
 * closed every client alive (a test worker, a script). This one is unref'd and stops with the client.
 */
function refreshPeriodically(cluster: Cluster): void {
  const timer = setInterval(() => {
    if (cluster.status === 'ready') cluster.refreshSlotsCache();
  }, SLOTS_REFRESH_MS).unref();
  cluster.once('end', () => clearInterval(timer));
}

/** True for a client createRedisClient made for a cluster. */
export function isCluster(client: Redis): boolean {
  return (client as unknown as { isCluster?: boolean }).isCluster === true;
}

/** The connections to every master (the client itself on a single server): what SCAN must walk. */
export function masterConnections(client: Redis): Redis[] {
  return isCluster(client) ? (client as unknown as Cluster).nodes('master') : [client];
}
